import * as z from 'zod';
import { PolicySchema } from './schema.ts';

/** JSON Schema of the policy file as an author writes it (defaults optional), for editors. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PolicySchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://paypath.dev/schema/policy.json',
    title: 'paypath failover policy',
  };
}
