# store-compare.sh - sourced by the shard and Slurm tests: store_results DB
# prints every result table of a store in a canonical order, rows keyed by
# the run's configuration hash instead of its integer id, without the
# wall-clock columns (started_at, finished_at, created_at, train_seconds,
# eval_seconds, peak_rss_bytes) and the host. Reals are printed with 17
# significant digits, so equal output means bit-identical metrics.
store_results() {
  sqlite3 "$1" <<'SQL'
.mode list
.separator |
select 'experiment', name, yaml_sha256 from experiment order by yaml_sha256;
select 'run', r.config_hash, e.yaml_sha256, r.config_json, r.seed, r.model, r.model_version,
       r.sampler, r.sampler_version, r.dataset, r.data_checksum, r.threads, r.git_revision,
       r.negbench_version, r.status, r.error, r.epochs_run, r.best_epoch, r.report_k
  from run r join experiment e on e.id = r.experiment_id order by r.config_hash;
select 'epoch', r.config_hash, x.epoch, printf('%.17g', x.loss)
  from epoch x join run r on r.id = x.run_id order by 2, 3;
select 'epoch_metric', r.config_hash, x.epoch, x.split, x.metric, x.k, printf('%.17g', x.value)
  from epoch_metric x join run r on r.id = x.run_id order by 2, 3, 4, 5, 6;
select 'sampler_stat', r.config_hash, x.epoch, x.name, printf('%.17g', x.value)
  from sampler_stat x join run r on r.id = x.run_id order by 2, 3, 4;
select 'final_metric', r.config_hash, x.split, x.metric, x.k, printf('%.17g', x.value)
  from final_metric x join run r on r.id = x.run_id order by 2, 3, 4, 5;
select 'user_hits', r.config_hash, x.user, x.k, hex(x.items)
  from user_hits x join run r on r.id = x.run_id order by 2, 3;
select 'user_ranks', r.config_hash, x.split, x.k, x.n_users, x.n_hits, hex(x.data)
  from user_ranks x join run r on r.id = x.run_id order by 2, 3;
select 'score_histogram', r.config_hash, x.epoch, x.name, printf('%.17g', x.lo),
       printf('%.17g', x.hi), hex(x.counts)
  from score_histogram x join run r on r.id = x.run_id order by 2, 3, 4;
SQL
}

# store_all DB: every row of every table, ids and wall-clock columns too
# (for "merging twice changes nothing").
store_all() {
  for t in meta experiment run epoch epoch_metric sampler_stat final_metric user_hits \
           user_ranks run_pair_per score_histogram; do
    sqlite3 "$1" "select '$t', * from $t" || return 1
  done | sort
}
