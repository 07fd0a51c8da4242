-- UUID v7 (time-ordered) generated in SQL, for events and rows written set-based.
-- PostgreSQL 18 has uuidv7(); 15 does not. This sets the version bits of a random UUID and
-- overlays the first 48 bits with the Unix time in milliseconds.
CREATE OR REPLACE FUNCTION crm.uuid_v7() RETURNS uuid AS $$
  SELECT encode(
    set_bit(
      set_bit(
        overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
        52, 1),
      53, 1),
    'hex')::uuid;
$$ LANGUAGE sql VOLATILE;
