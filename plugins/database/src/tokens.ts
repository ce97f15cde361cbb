import { token } from '@gantry/core';
import type { Database } from './database.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Database } from './database.js';

/** The {@link Database} service: entity and migration registration, request-scoped EntityManager, transactions. */
export const DatabaseToken = token<Database>('gantry.database.Database');
