#!/bin/sh
# report.sh - Tables 2/3 from a sweep store: test Recall/NDCG/Hit at 15 and 20 at
# the best validation epoch, mean ± sample standard deviation over seeds,
# per data set (the directory of the training file), model and sampler, as Markdown.
#   experiments/paper/report.sh [DB]     (default results/paper.sqlite)
DB=${1:-results/paper.sqlite}
echo '| data set | model | sampler | seeds | best epoch (mean) | Recall@15 | NDCG@15 | Hit@15 | Recall@20 | NDCG@20 | Hit@20 |'
echo '|---|---|---|---|---|---|---|---|---|---|---|'
sqlite3 -separator '	' "$DB" "
WITH f AS (
  SELECT json_extract(r.config_json, '\$.data.train') AS ds, r.model || ' ' || r.sampler AS sampler,
         f.metric || '@' || f.k AS m, f.value AS v, r.best_epoch AS best
  FROM final_metric f JOIN run r ON r.id = f.run_id
  WHERE f.split = 'test' AND r.status = 'done' AND f.k IN (15, 20)
    AND f.metric IN ('recall', 'ndcg', 'hit')
)
SELECT ds, sampler, m, count(*), avg(v),
       CASE WHEN count(*) > 1
            THEN sqrt(max(0, (sum(v * v) - sum(v) * sum(v) / count(*)) / (count(*) - 1)))
            ELSE 0 END,
       avg(best)
FROM f GROUP BY ds, sampler, m" |
awk -F '\t' '
  { n = split($1, parts, "/"); ds = parts[n - 1]; key = ds SUBSEP $2
    if (!(key in seen)) { seen[key] = 1; order[++k] = key }
    val[key, $3] = sprintf("%.4f ± %.4f", $5, $6); cnt[key] = $4; best[key] = $7 }
  END {
    split("rns dns srns mixgcf dens ans", pref, " ")
    for (i = 1; i <= k; i++) {
      split(order[i], kv, SUBSEP); split(kv[2], ms, " ")
      rank = 9; for (j = 1; j <= 6; j++) if (pref[j] == ms[2]) rank = j
      line[i] = sprintf("%s %s %d|| %s | %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %s |", kv[1], ms[1], rank,
        kv[1], ms[1], ms[2], cnt[order[i]], best[order[i]], val[order[i], "recall@15"], val[order[i], "ndcg@15"],
        val[order[i], "hit@15"], val[order[i], "recall@20"], val[order[i], "ndcg@20"], val[order[i], "hit@20"])
    }
    for (i = 1; i <= k; i++) print line[i]
  }' | sort | sed 's/^[^|]*||/|/'
