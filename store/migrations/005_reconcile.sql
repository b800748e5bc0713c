-- Reconciliation passes (flows/reconcile.c): when each ran, on which instance, what it cost in
-- Railway requests, what it found and enqueued, and its plan.
CREATE TABLE reconcile_passes (
    id bigserial PRIMARY KEY,
    instance text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    mode text NOT NULL CHECK (mode IN ('plan', 'apply', 'repair', 'report')),
    ok boolean,
    error text,
    railway_requests integer NOT NULL DEFAULT 0,
    changes_found integer NOT NULL DEFAULT 0,
    changes_enqueued integer NOT NULL DEFAULT 0,
    refused integer NOT NULL DEFAULT 0,
    plan jsonb NOT NULL DEFAULT '[]'::jsonb
);

CREATE INDEX reconcile_passes_started_idx ON reconcile_passes (started_at DESC, id DESC);
