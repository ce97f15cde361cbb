import { z } from 'zod';
import { CoreErrors } from './errors.js';

type Without<T> = T extends z.ZodDefault<infer I> | z.ZodPrefault<infer I> | z.ZodOptional<infer I> ? Without<I> : T;

/** The shape {@link patchSchema} makes of an object's shape: every field optional, without its default. */
export type PatchShape<S extends z.ZodRawShape> = { -readonly [K in keyof S]: z.ZodOptional<Without<S[K]>> };

/** What {@link patchSchema} returns: a strict object of optional fields that refuses an empty body. */
export type PatchSchema<S extends z.ZodRawShape> = z.ZodObject<PatchShape<S>, z.core.$strict>;

/**
 * The partial-update (PATCH) body of a resource whose full body `schema` describes: every field
 * optional and never defaulted (a PATCH leaves what it does not name untouched, where zod's own
 * `.partial()` fills in `.default()` values), unknown keys refused, and an empty body refused with
 * a 400 field error naming the fields one may send. Field refinements, transforms and wrappers stay.
 * Throws GANTRY_CORE_PATCH_SCHEMA_INVALID (at build time) for an object with refinements of its own.
 */
export function patchSchema<S extends z.ZodRawShape>(schema: z.ZodObject<S>): PatchSchema<S> {
  const fields = Object.keys(schema.shape);
  if (schema._zod.def.checks?.length) {
    throw CoreErrors.PATCH_SCHEMA_INVALID(
      `patchSchema() was given an object with refinements of its own (fields ${fields.join(', ')}): they were written for a whole body, ` +
        'not for a part of one; pass the object without them and check cross-field rules in the handler, on the merged resource',
    );
  }
  const shape: Record<string, z.ZodType> = {};
  for (const key of fields) {
    const field = schema.shape[key] as z.core.$ZodType;
    const optional = z.optional(withoutDefault(field));
    if (optional._zod.optin === 'defaulted') {
      throw CoreErrors.PATCH_SCHEMA_INVALID(
        `patchSchema(): field "${key}" still supplies a value when it is absent (a default inside a union, lazy or other schema it cannot look into): declare the field without a default`,
      );
    }
    const meta = z.globalRegistry.get(field);
    if (meta) {
      // The ids of a registry are unique: the copy keeps the description and the rest, not the id.
      const { id: _id, ...rest } = meta;
      z.globalRegistry.add(optional, rest);
    }
    shape[key] = optional;
  }
  const message = `send at least one of: ${fields.join(', ')}`;
  return z
    .object(shape)
    .strict()
    .refine((body) => Object.values(body).some((v) => v !== undefined), {
      message,
      params: { fields },
    }) as unknown as PatchSchema<S>;
}

/** `field` without the defaults (and prefaults) that would fill in its absence, its other wrappers kept. */
function withoutDefault(field: z.core.$ZodType): z.core.$ZodType {
  const def = field._zod.def;
  switch (def.type) {
    case 'default':
    case 'prefault': {
      const { innerType, checks } = def as z.core.$ZodDefaultDef;
      const inner = withoutDefault(innerType);
      // Refinements attached after .default() live on the default itself: they move to what it wrapped.
      if (!checks?.length) return inner;
      return z.core.util.clone(inner, { ...inner._zod.def, checks: [...(inner._zod.def.checks ?? []), ...checks] });
    }
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional': {
      const wrapped = def as z.core.$ZodOptionalDef;
      const inner = withoutDefault(wrapped.innerType);
      return inner === wrapped.innerType
        ? field
        : z.core.util.clone(field, { ...wrapped, innerType: inner } as typeof def, { parent: true });
    }
    case 'pipe': {
      // A transform or codec: the default sits on the input side.
      const pipe = def as z.core.$ZodPipeDef;
      const input = withoutDefault(pipe.in);
      return input === pipe.in
        ? field
        : z.core.util.clone(field, { ...pipe, in: input } as typeof def, { parent: true });
    }
    default:
      return field;
  }
}
