#!/bin/sh
# report.sh - Tables 2/3 from sweep stores: test Recall/NDCG/Hit at 15 and 20 at
# the best validation epoch, mean ± sample standard deviation over seeds,
# per data set (the directory of the training file), model and sampler, with
# the training seconds per epoch (each run's median, averaged), as Markdown. Several stores (e.g. the
# baselines and the ANS runs of one table) are read as one; a run (config hash) found in
# more than one store counts once.
#   experiments/paper/report.sh [DB...]     (default results/paper.sqlite)
[ $# -gt 0 ] || set -- results/paper.sqlite
attach= runs= i=0
for db in "$@"; do
  [ -f "$db" ] || { echo "report.sh: $db: no such store" >&2; exit 2; }
  i=$((i + 1))
  attach="$attach ATTACH '$(printf %s "$db" | sed "s/'/''/g")' AS s$i;"
  sel="SELECT r.config_hash AS hash, f.run_id AS run_id, f.split AS split, f.metric AS metric, f.k AS k, f.value AS value,
       r.config_json AS config_json, r.model AS model, r.sampler AS sampler, r.best_epoch AS best_epoch,
       m.t AS spe
       FROM s$i.final_metric f JOIN s$i.run r ON r.id = f.run_id
       LEFT JOIN (SELECT run_id, t FROM (SELECT run_id, train_seconds AS t,
                    row_number() OVER (PARTITION BY run_id ORDER BY train_seconds) AS rn,
                    count(*) OVER (PARTITION BY run_id) AS c FROM s$i.epoch) WHERE rn = c / 2 + 1) m
         ON m.run_id = r.id WHERE r.status = 'done'"
  runs="${runs:+$runs UNION ALL }$sel"
done
echo '| data set | model | sampler | seeds | best epoch (mean) | s/epoch | Recall@15 | NDCG@15 | Hit@15 | Recall@20 | NDCG@20 | Hit@20 |'
echo '|---|---|---|---|---|---|---|---|---|---|---|---|'
sqlite3 -separator '	' :memory: "$attach
WITH f AS (
  SELECT json_extract(config_json, '\$.data.train') AS ds, model || ' ' || sampler AS sampler,
         metric || '@' || k AS m, value AS v, best_epoch AS best, spe
  FROM (SELECT * FROM ($runs) GROUP BY hash, split, metric, k) -- a run in several stores counts once
  WHERE split = 'test' AND k IN (15, 20) AND metric IN ('recall', 'ndcg', 'hit')
)
SELECT ds, sampler, m, count(*), avg(v),
       CASE WHEN count(*) > 1
            THEN sqrt(max(0, (sum(v * v) - sum(v) * sum(v) / count(*)) / (count(*) - 1)))
            ELSE 0 END,
       avg(best), avg(spe)
FROM f GROUP BY ds, sampler, m" |
awk -F '\t' '
  { n = split($1, parts, "/"); ds = parts[n - 1]; key = ds SUBSEP $2
    if (!(key in seen)) { seen[key] = 1; order[++k] = key }
    val[key, $3] = sprintf("%.4f ± %.4f", $5, $6); cnt[key] = $4; best[key] = $7; spe[key] = $8 }
  END {
    split("rns dns srns mixgcf dens ans", pref, " ")
    for (i = 1; i <= k; i++) {
      split(order[i], kv, SUBSEP); split(kv[2], ms, " ")
      rank = 9; for (j = 1; j <= 6; j++) if (pref[j] == ms[2]) rank = j
      line[i] = sprintf("%s %s %d|| %s | %s | %s | %d | %.0f | %.2f | %s | %s | %s | %s | %s | %s |", kv[1], ms[1], rank,
        kv[1], ms[1], ms[2], cnt[order[i]], best[order[i]], spe[order[i]], val[order[i], "recall@15"], val[order[i], "ndcg@15"],
        val[order[i], "hit@15"], val[order[i], "recall@20"], val[order[i], "ndcg@20"], val[order[i], "hit@20"])
    }
    for (i = 1; i <= k; i++) print line[i]
  }' | sort | sed 's/^[^|]*||/|/'
