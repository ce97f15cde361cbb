import { line, patchSchema, type HttpRouter } from '@gantry/core';
import type { AuditRecordInput } from '@gantry/plugin-audit';
import { z } from 'zod';
import { PERMISSION_PATTERN, requires, ROLE_PATTERN } from './permissions.js';
import type { Rbac } from './rbac.js';

const TAGS = ['rbac'];
const name = z.string().regex(ROLE_PATTERN, 'must be 1-48 lower-case letters, digits or "-", starting with a letter');
const description = line({ min: 1, max: 200 }).refine((v) => v.trim().length > 0, 'must not be blank');
const permissions = z.array(z.string().regex(PERMISSION_PATTERN, 'must look like "resource:action"')).max(500);
const nameParams = z.object({ name }).strict();
const createBody = z.object({ name, description, permissions }).strict();
// Only the fields sent change; `{}` is refused.
const patchBody = patchSchema(z.object({ description, permissions }));

const roleObject = (id: string) => ({ type: 'role', id });

/** Role management: custom roles are created, changed and deleted here (`roles:write`); each change is audited. */
export function roleRoutes(
  http: HttpRouter,
  rbac: Rbac,
  record: (input: AuditRecordInput) => Promise<unknown> | undefined,
): void {
  // No escalation: a role can only be created, changed or deleted by someone holding all it grants.
  http.post(
    '/roles',
    {
      summary: 'Create a custom role granting known permissions (only ones you hold)',
      tags: TAGS,
      status: 201,
      schema: { body: createBody },
      meta: { ...requires('roles:write') },
    },
    async (req) => {
      await rbac.assertHolds(req.context.principal!, req.body.permissions, `creating role "${req.body.name}"`);
      const role = await rbac.createRole(req.body);
      await record({
        action: 'admin.role.create',
        outcome: 'success',
        object: roleObject(role.name),
        details: { permissions: role.permissions },
      });
      return role;
    },
  );

  http.patch(
    '/roles/:name',
    {
      summary: "Change a custom role's description or replace its permissions",
      tags: TAGS,
      schema: { params: nameParams, body: patchBody },
      meta: { ...requires('roles:write') },
    },
    async (req) => {
      const involved = [...rbac.permissionsOfRoles([req.params.name]), ...(req.body.permissions ?? [])];
      await rbac.assertHolds(req.context.principal!, involved, `changing role "${req.params.name}"`);
      const role = await rbac.updateRole(req.params.name, req.body);
      await record({
        action: 'admin.role.update',
        outcome: 'success',
        object: roleObject(role.name),
        details: { permissions: role.permissions },
      });
      return role;
    },
  );

  http.delete(
    '/roles/:name',
    {
      summary: 'Delete a custom role nobody holds',
      tags: TAGS,
      status: 204,
      schema: { params: nameParams },
      meta: { ...requires('roles:write') },
    },
    async (req) => {
      await rbac.assertHolds(
        req.context.principal!,
        rbac.permissionsOfRoles([req.params.name]),
        `deleting role "${req.params.name}"`,
      );
      await rbac.deleteRole(req.params.name);
      await record({ action: 'admin.role.delete', outcome: 'success', object: roleObject(req.params.name) });
      return undefined;
    },
  );
}
