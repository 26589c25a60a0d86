-- sync_push_batch (0008) carries every pushed body through the CTEs it materialises (input,
-- classified, numbered). With the default work_mem (4 MB) a batch of a migration's size spilled
-- to temporary files: 2,000 changes of 1.8 kB wrote 209 MB of temp files for 36 MB pushed, and
-- took 20-40% more PostgreSQL CPU than in memory. 64 MB keeps a full batch (at most 4,000
-- changes) in memory; work_mem is reserved only as used, and a relay process runs at most two
-- such statements at once.
ALTER FUNCTION sync_push_batch(uuid[], json) SET work_mem = '64MB';
