// init.go — -init: creates (when missing) role tmi (with the monitoring and
// signalling grants the seed's `psql -U tmi` commands need), database tmi, table
// threat_models (indexed on id only, so filters on created_at, owner or
// description scan the table, as the seed's EXPLAIN ANALYZE expects) and seeds
// it with -seed-rows rows spread over 30 days. Idempotent.
package main

import (
	"fmt"
	"log"
	"time"
)

const createTable = `CREATE TABLE IF NOT EXISTS threat_models (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    owner       text NOT NULL,
    status      text NOT NULL DEFAULT 'draft',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
)`

const seedRows = `INSERT INTO threat_models (name, description, owner, status, created_at, updated_at)
SELECT 'Threat model ' || g,
       'STRIDE analysis of component ' || g || ': ' || md5(g::text) || md5((g * 7)::text),
       'owner' || (g %% 50) || '@tmi.example',
       (ARRAY['draft','review','approved','archived'])[1 + g %% 4],
       now() - (g %% 720) * interval '1 hour',
       now() - (g %% 360) * interval '1 hour'
FROM generate_series(1, %d) AS g`

func initDatabase(cfg pgConfig, o options) error {
	deadline := func() time.Time { return time.Now().Add(60 * time.Second) }
	admin, err := pgConnect(cfg, 10*time.Second)
	if err != nil {
		return err
	}
	defer admin.Close()
	owner := ""
	_, err = admin.Query(fmt.Sprintf(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tmi') THEN
    CREATE ROLE tmi LOGIN PASSWORD %s;
  END IF;
END $$`, quoteLiteral(o.rolePassword)), deadline())
	if err != nil {
		log.Printf("tmisim: init: role tmi not created (%v); objects stay owned by %s", err, cfg.User)
	} else {
		owner = " OWNER tmi"
		/* what the seed's `psql -U tmi` commands need: read every session and
		   lock, end sessions, ALTER SYSTEM the two settings, reload */
		for _, grant := range []string{"GRANT pg_monitor, pg_signal_backend TO tmi",
			"GRANT ALTER SYSTEM ON PARAMETER work_mem, shared_buffers TO tmi",
			"GRANT EXECUTE ON FUNCTION pg_reload_conf() TO tmi"} {
			if _, err := admin.Query(grant, deadline()); err != nil {
				log.Printf("tmisim: init: %s: %v", grant, err)
			}
		}
	}
	res, err := admin.Query(fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = %s", quoteLiteral(o.pgDatabase)), deadline())
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		if _, err := admin.Query("CREATE DATABASE "+quoteIdent(o.pgDatabase)+owner, deadline()); err != nil {
			if pe, ok := err.(*PGError); !ok || pe.Code != "42P04" { /* 42P04: created meanwhile */
				return err
			}
		}
	}
	cfg.Database = o.pgDatabase
	db, err := pgConnect(cfg, 10*time.Second)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Query(createTable, deadline()); err != nil {
		return err
	}
	if owner != "" {
		if _, err := db.Query("ALTER TABLE threat_models OWNER TO tmi", deadline()); err != nil {
			return err
		}
	}
	res, err = db.Query("SELECT count(*) FROM threat_models", deadline())
	if err != nil {
		return err
	}
	if firstValue(res) == "0" {
		if _, err := db.Query(fmt.Sprintf(seedRows, o.seedRows)+"; ANALYZE threat_models", deadline()); err != nil {
			return err
		}
		log.Printf("tmisim: init: seeded %d threat models", o.seedRows)
	}
	return nil
}
