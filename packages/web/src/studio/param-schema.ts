// The job types' parameter schemas (GET /api/job-types) as a form reads them: the defaults to start from, the
// choices of a parameter, and a number box's limits. Pure, so they are tested under node.
import type { JobParams, ParamSchema } from '../types.ts';

/** The default of every parameter that has one. */
export function defaultParams(properties: Record<string, ParamSchema>): JobParams {
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([, schema]) => 'default' in schema)
      .map(([name, schema]) => [name, schema.default]),
  );
}

/** The values a parameter (or each item of a list parameter) may take; empty when it is not a choice. */
export function choices(schema: ParamSchema | undefined): string[] {
  const branches = (schema?.items ?? schema)?.anyOf ?? [];
  return branches.flatMap((branch) => (branch.const === undefined ? [] : [branch.const]));
}

/** A number box for a numeric parameter (or one that may be null): its smallest value, step and placeholder. */
export function numberBox(schema: ParamSchema | undefined): {
  min?: string;
  step: string;
  placeholder?: string;
} {
  const number = schema?.anyOf?.find((branch) => branch.type !== 'null') ?? schema;
  const integer = number?.type === 'integer';
  const exclusive = number?.exclusiveMinimum;
  const min = number?.minimum ?? (exclusive === undefined ? undefined : integer ? exclusive + 1 : exclusive);
  return {
    ...(min === undefined ? {} : { min: String(min) }),
    step: integer ? '1' : 'any',
    ...(schema?.defaultDescription === undefined ? {} : { placeholder: schema.defaultDescription }),
  };
}
