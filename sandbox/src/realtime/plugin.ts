import { definePlugin, line, text } from '@gantry/core';
import { HttpErrors } from '@gantry/http';
import { AuditToken } from '@gantry/plugin-audit';
import { DatabaseToken } from '@gantry/plugin-database';
import { GraphqlToken, type GraphqlContext } from '@gantry/plugin-graphql';
import { RbacToken, SubjectRoleEntity } from '@gantry/plugin-rbac';
import { UserEntity, UsersToken } from '@gantry/plugin-users';
import { WebSocketToken } from '@gantry/plugin-websocket';
import { NoteEntity } from '../notes/entity.js';
import { NOTES_CHANGED, READ_ANY, type NoteChanged } from '../notes/plugin.js';
import { z } from 'zod';

/** The rules of POST /notes. */
const noteInput = z
  .object({
    title: line({ min: 1, max: 200, trim: true }),
    body: text({ max: 10_000 }).default(''),
  })
  .strict();

const typeDefs = /* GraphQL */ `
  "An account, as GET /users/:id answers it."
  type User {
    id: ID!
    email: String!
    name: String!
    status: String!
    emailVerified: Boolean!
    "Batched per request (DataLoader): listing users with roles is two SQL queries."
    roles: [String!]!
    createdAt: String!
  }
  type Role { name: String! description: String! builtin: Boolean! permissions: [String!]! }
  type AuditEntry { id: ID! time: String! action: String! outcome: String! actorId: String objectType: String objectId: String }
  type Note { id: ID! ownerId: ID title: String! body: String! createdAt: String! updatedAt: String! }
  type NoteChange { action: String! id: ID! ownerId: ID title: String! }
  extend type Query {
    "The caller's own account."
    me: User!
    "Accounts, newest first (users:read)."
    users(limit: Int = 20, offset: Int = 0): [User!]!
    "Every role and what it grants (roles:read)."
    roles: [Role!]!
    "The audit trail, newest first (audit:read)."
    audit(limit: Int = 20, action: String): [AuditEntry!]!
    "The caller's notes, newest first."
    notes(limit: Int = 20): [Note!]!
  }
  type Mutation {
    "Creates a note owned by the caller (the rules of POST /notes; audited, pushed to the owner's sockets)."
    createNote(title: String!, body: String = ""): Note!
  }
  type Subscription {
    "Changes to the caller's notes (fed by the kernel event bus, Kafka with kafka-events)."
    noteChanged: NoteChange!
  }
`;

const page = (n: unknown, max: number): number => Math.max(1, Math.min(max, Number(n) || 20));

/**
 * The sandbox's real-time surface: the GraphQL schema over its services (users, roles, audit, notes)
 * and the WebSocket pushes of note changes to their owner (`user:<id>`).
 */
export const plugin = definePlugin({
  name: 'realtime',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'GraphQL schema and WebSocket pushes of the sandbox',
  dependsOn: ['graphql', 'websocket', 'users', 'rbac', 'audit', 'notes', 'database'],
  register(ctx) {
    const graphql = ctx.container.get(GraphqlToken);
    const hub = ctx.container.get(WebSocketToken);
    const db = ctx.container.get(DatabaseToken);
    const users = ctx.container.get(UsersToken);
    const rbac = ctx.container.get(RbacToken);
    const audit = ctx.container.get(AuditToken);

    // One query for the roles of every user a request lists.
    graphql.loader<string, string[]>('rolesOf', async (ids) => {
      const rows = await db
        .em()
        .find(SubjectRoleEntity, { subjectId: { $in: [...ids] } }, { orderBy: { role: 'asc' } });
      return ids.map((id) => rows.filter((r) => r.subjectId === id).map((r) => r.role));
    });

    const userOf = (u: {
      id: string;
      email: string;
      name: string;
      status: string;
      emailVerifiedAt?: Date | null;
      createdAt: Date;
    }) => ({
      id: u.id,
      email: u.email,
      name: u.name,
      status: u.status,
      emailVerified: Boolean(u.emailVerifiedAt),
      createdAt: u.createdAt.toISOString(),
    });

    graphql.contribute(
      {
        typeDefs,
        resolvers: {
          Query: {
            me: {
              access: 'authenticated',
              resolve: async (_s, _a, c: GraphqlContext) => users.view(c.principal!.id),
            },
            users: {
              access: { permission: 'users:read' },
              complexity: ({ args, childComplexity }) => page(args.limit, 100) * childComplexity,
              resolve: async (_s, a: { limit: number; offset: number }) => {
                const rows = await db.em().find(
                  UserEntity,
                  {},
                  {
                    orderBy: { createdAt: 'desc', id: 'asc' },
                    limit: page(a.limit, 100),
                    offset: Math.max(0, a.offset),
                  },
                );
                return rows.map(userOf);
              },
            },
            roles: { access: { permission: 'roles:read' }, resolve: () => rbac.listRoles() },
            audit: {
              access: { permission: 'audit:read' },
              complexity: ({ args, childComplexity }) => page(args.limit, 500) * childComplexity,
              resolve: async (_s, a: { limit: number; action?: string }) => {
                const result = await audit.query({
                  limit: page(a.limit, 500),
                  ...(a.action ? { action: a.action } : {}),
                });
                return result.items.map((e) => ({
                  id: e.id,
                  time: e.time,
                  action: e.action,
                  outcome: e.outcome,
                  actorId: e.actor?.id ?? null,
                  objectType: e.object?.type ?? null,
                  objectId: e.object?.id ?? null,
                }));
              },
            },
            notes: {
              access: 'authenticated',
              complexity: ({ args, childComplexity }) => page(args.limit, 100) * childComplexity,
              resolve: async (_s, a: { limit: number }, c: GraphqlContext) => {
                const rows = await db
                  .em()
                  .find(
                    NoteEntity,
                    { ownerId: c.principal!.id },
                    { orderBy: { createdAt: 'desc' }, limit: page(a.limit, 100) },
                  );
                return rows.map((n) => ({
                  ...n,
                  createdAt: n.createdAt.toISOString(),
                  updatedAt: n.updatedAt.toISOString(),
                }));
              },
            },
          },
          Mutation: {
            createNote: {
              access: 'authenticated',
              resolve: async (_s, args: unknown, c: GraphqlContext) => {
                const parsed = noteInput.safeParse(args);
                if (!parsed.success)
                  throw HttpErrors.VALIDATION(
                    `invalid: ${parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`,
                    {
                      details: {
                        errors: parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
                      },
                    },
                  );
                const em = db.em();
                const note = em.create(NoteEntity, { ...parsed.data, ownerId: c.principal!.id });
                await em.flush();
                await audit.record({
                  action: 'note.create',
                  outcome: 'success',
                  actor: { id: c.principal!.id, kind: 'user' },
                  object: { type: 'note', id: note.id },
                  details: { via: 'graphql' },
                });
                const change: NoteChanged = {
                  action: 'created',
                  id: note.id,
                  ownerId: note.ownerId ?? null,
                  title: note.title,
                };
                await ctx.events.publish({ topic: NOTES_CHANGED, key: c.principal!.id, payload: change });
                return { ...note, createdAt: note.createdAt.toISOString(), updatedAt: note.updatedAt.toISOString() };
              },
            },
          },
          Subscription: {
            noteChanged: {
              access: 'authenticated',
              subscribe: (_s, _a, c: GraphqlContext) =>
                graphql.events<NoteChanged>(NOTES_CHANGED, { filter: (p) => p.ownerId === c.principal!.id }),
            },
          },
          User: {
            roles: (u: { id: string; roles?: string[] }, _a: unknown, c: GraphqlContext) =>
              u.roles ?? c.loader<string, string[]>('rolesOf').load(u.id),
          },
        },
      },
      ctx.name,
    );

    // Admins (notes:read-any) may follow every note change on one channel; owners get theirs on user:<id>.
    hub.channel({ name: 'notes', access: { permission: READ_ANY }, description: 'Every note change' });
    hub.forward<NoteChanged>({
      topic: NOTES_CHANGED,
      to: (e) => (e.payload.ownerId ? [`user:${e.payload.ownerId}`, 'notes'] : ['notes']),
      data: (e) => ({ event: NOTES_CHANGED, ...e.payload }),
    });
  },
});
