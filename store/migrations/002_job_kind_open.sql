-- Job kinds are validated by railhook's kind table (flows/kinds.c), not by the schema: a new
-- kind needs no migration, and the test binary's own kinds can be queued.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
