-- Tables for the fault-injection tests (tests/integration/t_fault.sh, t_fold_fault.sh),
-- created direct in a database of their own.
--
-- fault_ref / fault_item: an N+1 loop (200 rows, one lookup each) whose every answer the
--   clients check ('item <id>'); the bystander sessions and the cancel race run it.
-- fault_slowref / fault_slowv: a loop whose lookups are fast for the keys the client reads,
--   while the batch pgfold builds from the key source also holds keys whose rows sleep
--   (fault_slow() hides pg_sleep behind a view, so the lookup is an ordinary eligible
--   SELECT): group 'long' (keys 1..20, 3 s each for 11..20) keeps a batch running until it is
--   killed; group 'short' (keys 101..120, 0.5 s each for 111..113) ends after 1.5 s.
-- fault_big: ten rows of 8,000 bytes, for many large answers pgfold gives locally.
CREATE TABLE fault_item (id int PRIMARY KEY, label text NOT NULL);
INSERT INTO fault_item SELECT g, 'item ' || g FROM generate_series(1, 500) g;
CREATE TABLE fault_ref (id int PRIMARY KEY, item_id int NOT NULL REFERENCES fault_item);
INSERT INTO fault_ref SELECT g, (g * 37) % 500 + 1 FROM generate_series(1, 200) g;

CREATE FUNCTION fault_slow(d float8) RETURNS int LANGUAGE plpgsql STABLE AS
$$BEGIN IF d > 0 THEN PERFORM pg_sleep(d); END IF; RETURN 1; END$$;
CREATE TABLE fault_slowt (id int PRIMARY KEY, label text NOT NULL, delay float8 NOT NULL);
INSERT INTO fault_slowt SELECT g, 'slow ' || g, CASE WHEN g > 10 THEN 3 ELSE 0 END
  FROM generate_series(1, 20) g;
INSERT INTO fault_slowt SELECT g, 'slow ' || g, CASE WHEN g BETWEEN 111 AND 113 THEN 0.5 ELSE 0 END
  FROM generate_series(101, 120) g;
CREATE VIEW fault_slowv AS SELECT id, label, fault_slow(delay) AS one FROM fault_slowt;
CREATE TABLE fault_slowref (id int PRIMARY KEY, grp text NOT NULL, slowv_id int NOT NULL);
INSERT INTO fault_slowref SELECT g, 'long', g FROM generate_series(1, 20) g;
INSERT INTO fault_slowref SELECT g, 'short', g FROM generate_series(101, 120) g;
CREATE TABLE fault_big (id int PRIMARY KEY, payload text NOT NULL);
INSERT INTO fault_big SELECT g, repeat(chr(64 + g), 8000) FROM generate_series(1, 10) g;
ANALYZE;
