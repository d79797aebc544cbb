-- schema.sql - the negbench results store, schema version 3.
--
-- One SQLite file per sweep (or per shard of a sweep). negbench creates this
-- schema itself (core/store.c embeds this file as core/store_schema.h); the
-- file can also be fed to the sqlite3 shell. Connection settings that are not
-- part of the file are applied by negbench on every open: foreign_keys = ON,
-- journal_mode = WAL, busy_timeout = 10000 ms, synchronous = NORMAL.
--
-- Conventions: time stamps are ISO-8601 UTC text ('2024-05-01T10:11:12.345Z');
-- a NaN value is stored as NULL (SQLite has no NaN); ids are SQLite rowids.
-- Every write of negbench is one transaction: an epoch appears with all of
-- its metrics and statistics or not at all.
--
-- Version 2 added the tables after the marker line '-- ---- added in
-- schema version 2' near the end, version 3 those after the marker of
-- version 3.
-- An older store is upgraded in place, in one transaction, the first time a
-- newer negbench opens it for writing (any command but negbench grid, which
-- only reads): the parts of this file after its version's marker run and
-- the version becomes 3; no existing row changes, so every run keeps its
-- identity.

PRAGMA user_version = 3;

-- Facts about the file itself, as key/value text.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,       -- 'schema_version', 'created_by', 'created_at'
    value TEXT NOT NULL           -- the value, as text
);
INSERT INTO meta (key, value) VALUES ('schema_version', '3');
INSERT INTO meta (key, value) VALUES ('created_by', 'negbench');

-- An experiment file as it was given; identical YAML text is stored once.
CREATE TABLE experiment (
    id          INTEGER PRIMARY KEY,  -- experiment id
    name        TEXT NOT NULL,        -- experiment name (from the YAML)
    yaml_text   TEXT NOT NULL,        -- the YAML file, byte for byte
    yaml_sha256 TEXT NOT NULL UNIQUE, -- SHA-256 hex of yaml_text
    created_at  TEXT NOT NULL         -- when first stored (ISO-8601 UTC)
);

-- One training run: one point of an experiment's grid with one seed. A run
-- is identified by config_hash; a re-run skips 'done' runs and restarts the
-- others under the same id (their epochs and results are deleted first).
CREATE TABLE run (
    id               INTEGER PRIMARY KEY,  -- run id
    experiment_id    INTEGER NOT NULL REFERENCES experiment(id),
                                           -- the experiment it belongs to
    config_hash      TEXT NOT NULL UNIQUE, -- SHA-256 hex of config_json
    config_json      TEXT NOT NULL,        -- resolved configuration, canonical JSON
    seed             INTEGER NOT NULL,     -- random seed
    model            TEXT NOT NULL,        -- model plugin name
    model_version    TEXT,                 -- model plugin version
    sampler          TEXT NOT NULL,        -- sampler plugin name
    sampler_version  TEXT,                 -- sampler plugin version
    dataset          TEXT,                 -- short description of the data
    data_checksum    TEXT,                 -- SHA-256 hex of the data files
    threads          INTEGER,              -- worker threads used
    host             TEXT,                 -- host name
    git_revision     TEXT,                 -- negbench revision ('unknown' if not known)
    negbench_version TEXT,                 -- negbench version
    status           TEXT NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
                                           -- 'running' until finished; a killed
                                           -- process leaves 'running'
    error            TEXT,                 -- message when status = 'failed'
    started_at       TEXT NOT NULL,        -- start time (ISO-8601 UTC)
    finished_at      TEXT,                 -- end time, NULL while running
    epochs_run       INTEGER NOT NULL DEFAULT 0,
                                           -- epochs committed so far / in total
    best_epoch       INTEGER,              -- epoch with the best validation
                                           -- metric, NULL if none
    report_k         INTEGER,              -- K of final reporting and user_hits
    peak_rss_bytes   INTEGER               -- peak resident memory, NULL if unknown
);
CREATE INDEX run_experiment ON run (experiment_id);

-- One row per committed training epoch of a run.
CREATE TABLE epoch (
    run_id        INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                                     -- the run
    epoch         INTEGER NOT NULL CHECK (epoch >= 1),
                                     -- epoch number, 1-based
    loss          REAL,              -- mean training loss of the epoch
    train_seconds REAL,              -- wall seconds spent training
    eval_seconds  REAL,              -- wall seconds spent evaluating
    PRIMARY KEY (run_id, epoch)
);

-- Metrics evaluated after an epoch, in long format.
CREATE TABLE epoch_metric (
    run_id INTEGER NOT NULL,          -- the run
    epoch  INTEGER NOT NULL,          -- the epoch (a row of epoch)
    split  TEXT NOT NULL CHECK (split IN ('valid', 'test')),
                                      -- evaluated split
    metric TEXT NOT NULL,             -- 'recall', 'ndcg', 'hit', 'precision', 'mrr'
    k      INTEGER NOT NULL,          -- cut-off K
    value  REAL,                      -- mean over users with ground truth
    PRIMARY KEY (run_id, epoch, split, metric, k),
    FOREIGN KEY (run_id, epoch) REFERENCES epoch(run_id, epoch) ON DELETE CASCADE
);

-- Sampler (and host) statistics of an epoch: DNS overlap, normalised
-- max/min score of first-pass candidates, augmentation gain, ...
CREATE TABLE sampler_stat (
    run_id INTEGER NOT NULL,          -- the run
    epoch  INTEGER NOT NULL,          -- the epoch (a row of epoch)
    name   TEXT NOT NULL,             -- statistic name
    value  REAL,                      -- its value for the epoch
    PRIMARY KEY (run_id, epoch, name),
    FOREIGN KEY (run_id, epoch) REFERENCES epoch(run_id, epoch) ON DELETE CASCADE
);

-- Metrics of a finished run at its best validation epoch.
CREATE TABLE final_metric (
    run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                                      -- the run
    split  TEXT NOT NULL CHECK (split IN ('valid', 'test')),
                                      -- evaluated split
    metric TEXT NOT NULL,             -- 'recall', 'ndcg', 'hit', 'precision', 'mrr'
    k      INTEGER NOT NULL,          -- cut-off K
    value  REAL,                      -- mean over users with ground truth
    PRIMARY KEY (run_id, split, metric, k)
);

-- Test items each user got right in the top K of the final test ranking,
-- written by schema version 1 only (version 2 writes user_ranks, which
-- holds the same and more in one row per run). Users with no hit have no row.
CREATE TABLE user_hits (
    run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                                      -- the run
    user   INTEGER NOT NULL,          -- 0-based user id
    k      INTEGER NOT NULL,          -- the K of the ranking (run.report_k)
    items  BLOB NOT NULL,             -- item ids, little-endian int32 each,
                                      -- in rank order (length(items)/4 hits)
    PRIMARY KEY (run_id, user)
);

-- Histograms of scores (Fig. 1a-c): n equal bins over [lo, hi).
CREATE TABLE score_histogram (
    run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                                      -- the run
    epoch  INTEGER NOT NULL CHECK (epoch >= 0),
                                      -- epoch after which it was taken
                                      -- (0: before training)
    name   TEXT NOT NULL,             -- what was counted ('unobserved', ...)
    lo     REAL NOT NULL,             -- lower edge of the first bin
    hi     REAL NOT NULL,             -- upper edge of the last bin
    counts BLOB NOT NULL,             -- little-endian int64 per bin
                                      -- (length(counts)/8 bins)
    PRIMARY KEY (run_id, epoch, name)
);

-- One row per run: what ran and its test Recall/NDCG/Hit at report_k
-- (NULL until the run is done).
CREATE VIEW run_summary AS
SELECT r.id            AS run_id,
       e.name          AS experiment,
       r.model         AS model,
       r.sampler       AS sampler,
       r.seed          AS seed,
       r.dataset       AS dataset,
       r.status        AS status,
       r.epochs_run    AS epochs_run,
       r.best_epoch    AS best_epoch,
       r.report_k      AS report_k,
       (SELECT f.value FROM final_metric f WHERE f.run_id = r.id
          AND f.split = 'test' AND f.metric = 'recall' AND f.k = r.report_k)
                       AS test_recall,
       (SELECT f.value FROM final_metric f WHERE f.run_id = r.id
          AND f.split = 'test' AND f.metric = 'ndcg' AND f.k = r.report_k)
                       AS test_ndcg,
       (SELECT f.value FROM final_metric f WHERE f.run_id = r.id
          AND f.split = 'test' AND f.metric = 'hit' AND f.k = r.report_k)
                       AS test_hit
FROM run r JOIN experiment e ON e.id = r.experiment_id;

-- Per-epoch curves in long format: every epoch with its loss and timings,
-- once per metric row (split, metric and k are NULL for an epoch that was
-- not evaluated). Fig. 5: WHERE split = 'valid' AND metric = 'recall' AND k = 20.
CREATE VIEW epoch_curve AS
SELECT ep.run_id        AS run_id,
       ep.epoch         AS epoch,
       ep.loss          AS loss,
       ep.train_seconds AS train_seconds,
       ep.eval_seconds  AS eval_seconds,
       m.split          AS split,
       m.metric         AS metric,
       m.k              AS k,
       m.value          AS value
FROM epoch ep LEFT JOIN epoch_metric m
     ON m.run_id = ep.run_id AND m.epoch = ep.epoch;

-- Final metrics in long format with what identifies the run (Tables 2-5).
CREATE VIEW final_long AS
SELECT e.name   AS experiment,
       r.id     AS run_id,
       r.model  AS model,
       r.sampler AS sampler,
       r.seed   AS seed,
       f.split  AS split,
       f.metric AS metric,
       f.k      AS k,
       f.value  AS value
FROM final_metric f
     JOIN run r ON r.id = f.run_id
     JOIN experiment e ON e.id = r.experiment_id;

-- ---- added in schema version 2

-- Per-user rankings of a finished run at its best validation epoch, one
-- compact BLOB per split: for every user |R(u)| and the rank (1..k) and item
-- of each ground-truth item in the top k, so every per-user metric at every
-- K <= k and the hit sets of PER can be recomputed (core/user_ranks.h has
-- the layout: a byte 1, then per user varint |R(u)|, varint n_hits and
-- n_hits pairs varint rank, varint item; unsigned LEB128 varints).
CREATE TABLE user_ranks (
    run_id  INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                                      -- the run
    split   TEXT NOT NULL CHECK (split IN ('valid', 'test')),
                                      -- evaluated split
    k       INTEGER NOT NULL CHECK (k >= 1),
                                      -- ranks 1..k kept (run.report_k)
    n_users INTEGER NOT NULL,         -- users in the BLOB (all users)
    n_hits  INTEGER NOT NULL,         -- (rank, item) pairs in the BLOB
    data    BLOB NOT NULL,            -- the packed rankings
    PRIMARY KEY (run_id, split)
);

-- PER (Fig. 2) between two runs, cached by negbench report: H_x is the set
-- of (user, item) test pairs run x ranks in its top k. PER(x, y) =
-- n_x_not_y / n_y (default) or n_x_not_y / n_x. Keyed by config hashes, so
-- the values survive merges and hold across stores.
CREATE TABLE run_pair_per (
    hash_x    TEXT NOT NULL,          -- config_hash of run x
    hash_y    TEXT NOT NULL,          -- config_hash of run y
    split     TEXT NOT NULL CHECK (split IN ('valid', 'test')),
    k         INTEGER NOT NULL,       -- the cut-off
    n_x       INTEGER NOT NULL,       -- |H_x|
    n_y       INTEGER NOT NULL,       -- |H_y|
    n_x_not_y INTEGER NOT NULL,       -- |H_x minus H_y|
    PRIMARY KEY (hash_x, hash_y, split, k)
);

-- ---- added in schema version 3

-- The points a sweep (negbench run GRID.yaml) planned, written in one
-- transaction when the sweep starts, before any of its runs: every distinct
-- run of the whole grid, also in a shard's store, so that a report can list
-- the points that never started. Keyed by config hash (the run's identity):
-- a resumed sweep adds nothing, and negbench merge takes the union.
CREATE TABLE sweep_plan (
    config_hash TEXT PRIMARY KEY,     -- SHA-256 hex of config_json (run.config_hash)
    experiment  TEXT NOT NULL,        -- experiment name (experiment.name)
    position    INTEGER NOT NULL,     -- 0-based rank among the grid's distinct runs
    label       TEXT NOT NULL,        -- the point's axis values ('' for a single point)
    config_json TEXT NOT NULL,        -- resolved configuration, canonical JSON
    planned_at  TEXT NOT NULL         -- when first recorded (ISO-8601 UTC)
);

-- Every planned point with the status of its run: 'missing' when no run
-- with its hash is in this store.
CREATE VIEW plan_status AS
SELECT p.experiment  AS experiment,
       p.position    AS position,
       p.label       AS label,
       p.config_hash AS config_hash,
       ifnull(r.status, 'missing') AS status
FROM sweep_plan p LEFT JOIN run r ON r.config_hash = p.config_hash;
