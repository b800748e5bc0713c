-- pgbench script for `scripts/bench.sh intake`: the baseline, one single-row insert of the
-- same push payload per transaction (the payload arrives as the prepared parameter :payload).
INSERT INTO bench_delivery (payload) VALUES (:payload::jsonb);
