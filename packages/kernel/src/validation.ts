import type { z } from 'zod';
import { fail, ok, type Result, ValidationError } from './errors.ts';

/** Parses input with a zod schema; failures become a ValidationError pointing at each bad field. */
export function validateInput<T>(
  schema: z.ZodType<T>,
  input: unknown,
  root: string[] = ['input'],
): Result<T, ValidationError> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  return fail(
    new ValidationError(
      parsed.error.issues.map((i) => ({ path: [...root, ...i.path.map(String)], message: i.message })),
    ),
  );
}
