import { defineEntity, p, type MigrationDefinition } from '@gantry/plugin-database';

/** A role (table `rbac_role`). */
export const RoleEntity = defineEntity({
  name: 'RbacRole',
  tableName: 'rbac_role',
  properties: {
    name: p.string().length(48).primary(),
    description: p.string().length(200),
    builtin: p.boolean(),
  },
});

/** A known permission (table `rbac_permission`). */
export const PermissionEntity = defineEntity({
  name: 'RbacPermission',
  tableName: 'rbac_permission',
  properties: {
    name: p.string().length(97).primary(),
  },
});

/** A permission granted to a role (table `rbac_role_permission`). */
export const RolePermissionEntity = defineEntity({
  name: 'RbacRolePermission',
  tableName: 'rbac_role_permission',
  properties: {
    role: p.string().length(48).primary(),
    permission: p.string().length(97).primary(),
  },
});

/** A role held by a subject (table `rbac_subject_role`); the subject is a user id owned by another plugin. */
export const SubjectRoleEntity = defineEntity({
  name: 'RbacSubjectRole',
  tableName: 'rbac_subject_role',
  properties: {
    subjectId: p.string().length(64).primary(),
    role: p.string().length(48).primary(),
  },
});

/** The rbac tables, for SQLite and PostgreSQL. */
export const rbacMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_rbac',
    up(m) {
      m.sql(
        'create table rbac_role (name varchar(48) not null primary key, description varchar(200) not null, builtin boolean not null)',
      );
      m.sql('create table rbac_permission (name varchar(97) not null primary key)');
      m.sql(`create table rbac_role_permission (
        role varchar(48) not null references rbac_role (name) on delete cascade,
        permission varchar(97) not null references rbac_permission (name) on delete cascade,
        primary key (role, permission))`);
      m.sql(`create table rbac_subject_role (
        subject_id varchar(64) not null,
        role varchar(48) not null references rbac_role (name) on delete cascade,
        primary key (subject_id, role))`);
      m.sql('create index rbac_subject_role_role_idx on rbac_subject_role (role)');
    },
  },
];
