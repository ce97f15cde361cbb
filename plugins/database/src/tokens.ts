import { token } from '@gantry/core';
import type { Database } from './database.js';

/** The {@link Database} service: entity and migration registration, request-scoped EntityManager, transactions. */
export const DatabaseToken = token<Database>('gantry.database.Database');
