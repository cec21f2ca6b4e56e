SELECT pid, now() - query_start FROM pg_stat_activity WHERE state = 'active' -- x
;