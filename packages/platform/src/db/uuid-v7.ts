// A uuid v7 made by PostgreSQL itself (15 has no uuidv7()), for ids written set-based in one
// statement (outbox events, runs, recipients): the time in ms over a random v4 with the version
// bits set, so they sort by creation like newId()'s and pass the envelope's uuid v7 check.
import { sql } from 'drizzle-orm';

export const UUID_V7_SQL = sql.raw(`encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
  substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid`);
