/*
 * shape_corpus: the statement corpus, shared by the parser's test (test_shape.c: SQL -> kind,
 * flags, details) and the engine's (test_engine_effects.c: SQL -> what running it does to the
 * answer cache). One line per case. Include it in one translation unit per test binary.
 */
#ifndef PGFOLD_TESTS_SHAPE_CORPUS_H
#define PGFOLD_TESTS_SHAPE_CORPUS_H

#include "parser/shape.h"

#define UNK SHAPE_UNKNOWN
#define EMP SHAPE_EMPTY
#define LKP SHAPE_LOOKUP
#define RD SHAPE_READ
#define WR SHAPE_WRITE
#define TX SHAPE_TXN
#define SS SHAPE_SESSION
#define UT SHAPE_UTILITY

#define L SHAPE_F_LIMIT
#define O SHAPE_F_OFFSET
#define OB SHAPE_F_ORDER_BY
#define D SHAPE_F_DISTINCT
#define AG SHAPE_F_AGGREGATE
#define GB SHAPE_F_GROUP_BY
#define W SHAPE_F_WINDOW
#define SO SHAPE_F_SETOP
#define FU SHAPE_F_LOCKING
#define MC SHAPE_F_MODIFYING_CTE
#define UF SHAPE_F_UNSAFE_FUNC
#define WI SHAPE_F_WITH
#define INTO SHAPE_F_INTO
#define MU SHAPE_F_MULTI
#define OFF SHAPE_F_OPTOUT
#define TS SHAPE_F_TABLESAMPLE
#define SQ SHAPE_F_SUBQUERY
#define RS SHAPE_F_RESERVED
#define VA SHAPE_F_VALUES

struct shape_case {
    const char *sql;
    enum shape_kind kind;
    unsigned flags;
    const char *detail;
};

/* One case a line, so the table is exempt from the column limit. */
// clang-format off
static const struct shape_case corpus[] = {
    /* Django 3.2 (psycopg2 interpolates on the client: literals in the text) */
    {"SELECT \"polls_question\".\"id\", \"polls_question\".\"question_text\", \"polls_question\".\"pub_date\" FROM \"polls_question\" WHERE \"polls_question\".\"id\" = 1 LIMIT 21", LKP, L, "1 polls_question.id@polls_question"},
    {"SELECT \"polls_choice\".\"id\", \"polls_choice\".\"question_id\", \"polls_choice\".\"choice_text\", \"polls_choice\".\"votes\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = 1", LKP, 0, "1 polls_choice.question_id@polls_choice any"},
    {"SELECT \"app_tag\".\"id\", \"app_tag\".\"name\" FROM \"app_tag\" INNER JOIN \"app_book_tags\" ON (\"app_tag\".\"id\" = \"app_book_tags\".\"tag_id\") WHERE \"app_book_tags\".\"book_id\" = 5", LKP, 0, "5 app_book_tags.book_id@app_book_tags any"},
    {"SELECT \"polls_choice\".\"id\", \"polls_choice\".\"votes\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = 1 ORDER BY \"polls_choice\".\"votes\" DESC", LKP, OB, "1 polls_choice.question_id@polls_choice any"},
    {"SELECT \"docs_document\".\"id\", \"docs_document\".\"title\" FROM \"docs_document\" WHERE \"docs_document\".\"id\" = '3f2504e0-4f89-11d3-9a0c-0305e82c3301'::uuid LIMIT 21", LKP, L, "'3f2504e0-4f89-11d3-9a0c-0305e82c3301' docs_document.id@docs_document cast:uuid"},
    {"SELECT COUNT(*) AS \"__count\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = 1", LKP, AG, "1 polls_choice.question_id@polls_choice"},
    {"SELECT (1) AS \"a\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = 1 LIMIT 1", LKP, L, "1 polls_choice.question_id@polls_choice"},
    {"SELECT \"auth_user\".\"id\", \"auth_user\".\"username\" FROM \"auth_user\" WHERE \"auth_user\".\"username\" = 'alice' LIMIT 21", LKP, L, "'alice' auth_user.username@auth_user"},
    {"SELECT \"polls_choice\".\"id\", \"polls_question\".\"id\", \"polls_question\".\"question_text\" FROM \"polls_choice\" INNER JOIN \"polls_question\" ON (\"polls_choice\".\"question_id\" = \"polls_question\".\"id\") WHERE \"polls_choice\".\"id\" = 3 LIMIT 21", LKP, L, "3 polls_choice.id@polls_choice"},
    {"SELECT \"app_tag\".\"id\", \"app_tag\".\"name\" FROM \"app_tag\" INNER JOIN \"app_book_tags\" ON (\"app_tag\".\"id\" = \"app_book_tags\".\"tag_id\") WHERE (\"app_book_tags\".\"book_id\" = 5 AND \"app_tag\".\"active\")", LKP, 0, "5 app_book_tags.book_id@app_book_tags any"},
    {"SELECT \"comments_comment\".\"id\" FROM \"comments_comment\" WHERE (\"comments_comment\".\"content_type_id\" = 12 AND \"comments_comment\".\"object_id\" = '42')", LKP, 0, "12 comments_comment.content_type_id@comments_comment any | '42' comments_comment.object_id@comments_comment any"},
    {"SELECT \"polls_choice\".\"id\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" IN (1, 2, 3)", RD, 0, ""},
    {"SELECT \"polls_choice\".\"id\" FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = 1 ORDER BY \"polls_choice\".\"id\" ASC LIMIT 1", LKP, L | OB, "1 polls_choice.question_id@polls_choice"},
    /* Rails 6.1 (prepared statements, LIMIT as a parameter) */
    {"SELECT \"users\".* FROM \"users\" WHERE \"users\".\"id\" = $1 LIMIT $2", LKP, L, "$1 users.id@users"},
    {"SELECT \"comments\".* FROM \"comments\" WHERE \"comments\".\"post_id\" = $1", LKP, 0, "$1 comments.post_id@comments any"},
    {"SELECT \"tags\".* FROM \"tags\" INNER JOIN \"taggings\" ON \"tags\".\"id\" = \"taggings\".\"tag_id\" WHERE \"taggings\".\"post_id\" = $1", LKP, 0, "$1 taggings.post_id@taggings any"},
    {"SELECT \"profiles\".* FROM \"profiles\" WHERE \"profiles\".\"user_id\" = $1 LIMIT $2", LKP, L, "$1 profiles.user_id@profiles"},
    {"SELECT \"comments\".* FROM \"comments\" WHERE \"comments\".\"post_id\" = $1 ORDER BY \"comments\".\"created_at\" DESC", LKP, OB, "$1 comments.post_id@comments any"},
    {"SELECT \"pictures\".* FROM \"pictures\" WHERE \"pictures\".\"imageable_id\" = $1 AND \"pictures\".\"imageable_type\" = $2", LKP, 0, "$1 pictures.imageable_id@pictures any | $2 pictures.imageable_type@pictures any"},
    {"SELECT COUNT(*) FROM \"comments\" WHERE \"comments\".\"post_id\" = $1", LKP, AG, "$1 comments.post_id@comments"},
    /* Hibernate 6 */
    {"select c1_0.id,c1_0.name from customer c1_0 where c1_0.id=$1", LKP, 0, "$1 c1_0.id@customer any"},
    {"select o1_0.customer_id,o1_0.id,o1_0.total from orders o1_0 where o1_0.customer_id=$1", LKP, 0, "$1 o1_0.customer_id@orders any"},
    {"select r1_0.user_id,r1_1.id,r1_1.name from user_roles r1_0 join role r1_1 on r1_1.id=r1_0.role_id where r1_0.user_id=$1", LKP, 0, "$1 r1_0.user_id@user_roles any"},
    {"select a1_0.id,a1_0.street from public.address a1_0 where a1_0.id=$1", LKP, 0, "$1 a1_0.id@public.address any"},
    {"select b1_0.id,a1_0.id,a1_0.name from book b1_0 left join author a1_0 on a1_0.id=b1_0.author_id where b1_0.id=$1", LKP, 0, "$1 b1_0.id@book any"},
    /* SQLAlchemy lazy loads (%(param_1)s rendered as $1; key on the left) */
    {"SELECT addresses.id AS addresses_id, addresses.email_address AS addresses_email_address, addresses.user_id AS addresses_user_id FROM addresses WHERE $1 = addresses.user_id", LKP, 0, "$1 addresses.user_id@addresses < any"},
    {"SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.id = $1", LKP, 0, "$1 users.id@users any"},
    {"SELECT keywords.id AS keywords_id, keywords.name AS keywords_name FROM keywords, post_keywords WHERE $1 = post_keywords.post_id AND keywords.id = post_keywords.keyword_id", LKP, 0, "$1 post_keywords.post_id@post_keywords < any"},
    {"SELECT addresses.id AS addresses_id FROM addresses WHERE $1 = addresses.user_id ORDER BY addresses.id", LKP, OB, "$1 addresses.user_id@addresses < any"},
    {"SELECT addresses.id AS addresses_id FROM addresses WHERE 5 = addresses.user_id", LKP, 0, "5 addresses.user_id@addresses < any"},
    /* Sequelize (values inlined, trailing semicolon) */
    {"SELECT \"id\", \"title\", \"userId\", \"createdAt\", \"updatedAt\" FROM \"Posts\" AS \"Post\" WHERE \"Post\".\"userId\" = 1;", LKP, 0, "1 Post.userId@Posts any"},
    {"SELECT \"id\", \"username\", \"createdAt\", \"updatedAt\" FROM \"Users\" AS \"User\" WHERE \"User\".\"id\" = 1;", LKP, 0, "1 User.id@Users any"},
    {"SELECT \"id\", \"body\", \"postId\" FROM \"Comments\" AS \"Comment\" WHERE \"Comment\".\"postId\" IN (1);", LKP, 0, "1 Comment.postId@Comments in"},
    {"SELECT \"id\", \"username\" FROM \"Users\" AS \"User\" WHERE \"User\".\"email\" = 'a@b.c' LIMIT 1;", LKP, L, "'a@b.c' User.email@Users"},
    {"SELECT \"id\" FROM \"Users\" AS \"User\" WHERE \"User\".\"id\" = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';", LKP, 0, "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' User.id@Users any"},
    /* TypeORM */
    {"SELECT \"User\".\"id\" AS \"User_id\", \"User\".\"name\" AS \"User_name\" FROM \"user\" \"User\" WHERE ((\"User\".\"id\" = $1)) LIMIT 1", LKP, L, "$1 User.id@user"},
    {"SELECT \"Photo\".\"id\" AS \"Photo_id\", \"Photo\".\"url\" AS \"Photo_url\", \"Photo\".\"userId\" AS \"Photo_userId\" FROM \"photo\" \"Photo\" WHERE \"Photo\".\"userId\" IN ($1)", LKP, 0, "$1 Photo.userId@photo in"},
    {"SELECT DISTINCT \"distinctAlias\".\"User_id\" AS \"ids_User_id\" FROM (SELECT \"User\".\"id\" AS \"User_id\" FROM \"user\" \"User\" LEFT JOIN \"photo\" \"User__photos\" ON \"User__photos\".\"userId\"=\"User\".\"id\" WHERE (\"User\".\"id\" = $1)) \"distinctAlias\" ORDER BY \"User_id\" ASC LIMIT 1", RD, D | OB | L | SQ, ""},
    {"SELECT \"Post\".\"id\" AS \"Post_id\" FROM \"post\" \"Post\" WHERE \"Post\".\"authorId\" = $1", LKP, 0, "$1 Post.authorId@post any"},
    /* asyncpg, hand-written */
    {"SELECT id, name, email FROM users WHERE id = $1", LKP, 0, "$1 id@users any"},
    {"SELECT * FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 10", LKP, L | OB, "$1 user_id@orders"},
    {"SELECT o.* FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1", LKP, 0, "$1 u.email@users any"},
    {"SELECT * FROM users WHERE id = $1::bigint", LKP, 0, "$1 id@users cast:int8"},
    {"SELECT * FROM items WHERE id = $1 AND tenant_id = $2", LKP, 0, "$1 id@items any | $2 tenant_id@items any"},
    {"SELECT * FROM users WHERE id = $1 AND deleted_at IS NULL", LKP, 0, "$1 id@users any"},
    {"SELECT count(*) FROM orders WHERE user_id = $1", LKP, AG, "$1 user_id@orders"},
    {"SELECT u.id, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u WHERE u.id = $1", LKP, SQ, "$1 u.id@users any"},
    {"SELECT * FROM users WHERE lower(email) = lower($1)", RD, 0, ""},
    {"SELECT * FROM users WHERE id = $1 AND $1 > 0", LKP, 0, "$1 id@users reused"},
    /* found by fuzz_shape: `type $n` is libpg_query's, not PostgreSQL's, and a reused key
     * there would become a function call in the batch */
    {"SELECT * FROM t WHERE $1 = t.a AND int8 $1 = t.b", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $1 AND x = date $2", RD, 0, ""},
    /* found by fuzz_shape: the = ANY form's key column must not run into SELECT */
    {"SELECT!a.* FROM t AS a WHERE a.id = $1", LKP, 0, "$1 a.id@t any"},
    {"SELECT\"a\".x FROM t AS a WHERE a.id = $1", LKP, 0, "$1 a.id@t any"},
    /* found by fuzz_shape: an operand in parentheses of its own; the = ANY form cut the pair */
    {"SELECT * FROM t WHERE id =($1)", LKP, 0, "$1 id@t"},
    {"SELECT * FROM t WHERE (id) = 7", LKP, 0, "7 id@t"},
    {"SELECT * FROM t WHERE (7) = id", LKP, 0, "7 id@t <"},
    {"SELECT * FROM t WHERE (id = 7)", LKP, 0, "7 id@t any"},
    /* look-alikes that are not eligible */
    {"SELECT * FROM users WHERE id = $1 FOR UPDATE", WR, FU, ""},
    {"SELECT * FROM users WHERE id = $1 FOR SHARE", WR, FU, ""},
    {"SELECT * FROM jobs WHERE queue = $1 LIMIT 1 FOR UPDATE SKIP LOCKED", WR, FU | L, ""},
    {"SELECT * FROM users u WHERE u.id = $1 FOR NO KEY UPDATE OF u", WR, FU, ""},
    {"SELECT * FROM t WHERE id = $1 AND random() < 0.5", WR, UF, ""},
    {"SELECT nextval('users_id_seq')", WR, UF, ""},
    {"SELECT setval('s', 1)", WR, UF, ""},
    {"SELECT * FROM t WHERE id = $1 AND gen_random_uuid() IS NOT NULL", WR, UF, ""},
    {"SELECT clock_timestamp(), * FROM t WHERE id = $1", WR, UF, ""},
    {"SELECT pg_sleep(1) FROM t WHERE id = $1", WR, UF, ""},
    {"SELECT my_func(id) FROM t WHERE id = $1", WR, UF, ""},
    {"SELECT public.lower(name) FROM t WHERE id = $1", WR, UF, ""},
    {"SELECT pg_catalog.lower(name) FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT set_config('search_path', 'x', false)", WR, UF, ""},
    {"WITH d AS (DELETE FROM t WHERE id = $1 RETURNING *) SELECT * FROM d", WR, MC | WI, ""},
    {"WITH u AS (UPDATE t SET n = n + 1 WHERE id = $1 RETURNING n) SELECT n FROM u", WR, MC | WI, ""},
    {"WITH i AS (INSERT INTO log(msg) VALUES ('x') RETURNING id) SELECT * FROM t WHERE id = $1", WR, MC | WI, ""},
    {"SELECT * FROM t WHERE id = $1 OR name = $2", RD, 0, ""},
    {"SELECT * FROM t WHERE id > $1", RD, 0, ""},
    {"SELECT * FROM t WHERE id >= $1 AND id <= $2", RD, 0, ""},
    {"SELECT * FROM t WHERE id = (SELECT max(id) FROM t)", RD, SQ, ""},
    {"SELECT * FROM t WHERE id = $1; SELECT 1", RD, MU, ""},
    {"SELECT * FROM t WHERE id = 1; DELETE FROM t WHERE id = 2", WR, MU, ""},
    {"SELECT * FROM t WHERE id IN ($1, $2)", RD, 0, ""},
    {"SELECT * FROM t WHERE id = ANY($1)", RD, 0, ""},
    {"SELECT * FROM t WHERE NOT (id = $1)", RD, 0, ""},
    {"SELECT * FROM t WHERE id = NULL", RD, 0, ""},
    {"SELECT * FROM t WHERE active = true", RD, 0, ""},
    {"SELECT * FROM t WHERE flags = B'0101'", RD, 0, ""},
    {"SELECT * FROM t WHERE id = other_id", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $1 + 1", RD, 0, ""},
    {"SELECT * FROM t WHERE id::text = $1", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $1::text::int8", RD, 0, ""},
    {"SELECT * FROM t WHERE id = int8 '7'", RD, 0, ""},
    {"SELECT * FROM t WHERE id <> $1", RD, 0, ""},
    {"SELECT * FROM t WHERE id NOT IN ($1)", RD, 0, ""},
    {"SELECT * FROM t WHERE id IS NOT DISTINCT FROM $1", RD, 0, ""},
    {"SELECT * FROM t WHERE (id, tenant) = ($1, $2)", RD, 0, ""},
    {"SELECT * FROM t WHERE id = +7", RD, 0, ""},
    {"SELECT * FROM t WHERE id = ARRAY[1]", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $1::int8[]", RD, 0, ""},
    {"SELECT * FROM t TABLESAMPLE SYSTEM (10) WHERE id = $1", RD, TS, ""},
    {"SELECT * INTO t2 FROM t WHERE id = 1", WR, INTO, ""},
    {"SELECT * FROM t WHERE id = $1 AND EXISTS (SELECT 1 FROM u WHERE u.t_id = t.id FOR UPDATE)", WR, FU | SQ, ""},
    {"SELECT * FROM t WHERE name = U&'d\\0061t'", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $99999", RD, 0, ""},
    {"SELECT * FROM t WHERE id = $0", RD, 0, ""},
    /* opt-out comment and reserved names */
    {"/* pgfold:off */ SELECT * FROM t WHERE id = $1", RD, OFF, ""},
    {"SELECT * FROM t WHERE id = $1 -- pgfold:off", RD, OFF, ""},
    {"SELECT * FROM t /* PGFOLD:OFF please */ WHERE id = $1", RD, OFF, ""},
    {"SELECT '/* pgfold:off */' AS c FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT * FROM pgfold_k WHERE id = $1", RD, RS, ""},
    {"SELECT \"pgfold_v\" FROM t WHERE id = $1", RD, RS, ""},
    /* parse failures */
    {"SELEC * FROM t", UNK, 0, ""},
    {"SELECT * FROM", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = 'unterminated", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = $1 AND", UNK, 0, ""},
    {")))", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = $1 $2", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = 'a' 'b'", UNK, 0, ""},
    {"SELECT 1 /* unterminated comment", UNK, 0, ""},
    /* syntax newer than the PostgreSQL 15 grammar */
    {"SELECT JSON_OBJECT('a' VALUE 1)", UNK, 0, ""},
    {"SELECT * FROM t WHERE doc IS JSON", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = 1_000", UNK, 0, ""},
    {"SELECT 0x1F FROM t WHERE id = $1", UNK, 0, ""},
    {"SELECT * FROM t WHERE id = 0b101", UNK, 0, ""},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING *", UNK, 0, ""},
    {"SELECT * FROM JSON_TABLE(jsonb '[]', '$[*]' COLUMNS (a int PATH '$.a')) jt", UNK, 0, ""},
    {"CREATE TABLE p (a int, b tstzrange, PRIMARY KEY (a, b WITHOUT OVERLAPS))", UNK, 0, ""},
    {"SELECT a, count(*) FROM t GROUP BY ALL", UNK, 0, ""},
    /* unicode identifiers and literals */
    {"SELECT \"名前\" FROM \"ユーザー\" WHERE \"ユーザー\".\"id\" = $1", LKP, 0, "$1 ユーザー.id@ユーザー any"},
    {"SELECT * FROM users WHERE name = 'Zoë'", LKP, 0, "'Zoë' name@users any"},
    {"SELECT * FROM café WHERE naïve = 'árvíztűrő tükörfúrógép'", LKP, 0, "'árvíztűrő tükörfúrógép' naïve@café any"},
    {"SELECT * FROM \"Users\" WHERE \"Users\".\"Name\" = '日本語'", LKP, 0, "'日本語' Users.Name@Users any"},
    /* dollar quotes */
    {"SELECT * FROM t WHERE name = $$O'Brien$$", LKP, 0, "'O'Brien' name@t any"},
    {"SELECT * FROM t WHERE name = $q$it's $$ here$q$", LKP, 0, "'it's $$ here' name@t any"},
    {"SELECT * FROM t WHERE body = $$a$$ AND id = $1", LKP, 0, "'a' body@t any | $1 id@t any"},
    /* comments */
    {"SELECT /* hint */ * FROM t WHERE id = /* key */ 7 -- trailing", LKP, 0, "7 id@t any"},
    {"-- leading comment\nSELECT * FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT * FROM t /* a /* nested */ b */ WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT * FROM t WHERE id = $1; -- done", LKP, 0, "$1 id@t any"},
    {"SELECT * FROM t WHERE id = $1 ;  ", LKP, 0, "$1 id@t any"},
    /* E'' strings and quote doubling */
    {"SELECT * FROM t WHERE name = E'O\\'Brien'", LKP, 0, "'O'Brien' name@t any"},
    {"SELECT * FROM t WHERE name = E'tab\\there'", LKP, 0, "'tab\there' name@t any"},
    {"SELECT * FROM t WHERE path = E'C:\\\\dir'", LKP, 0, "'C:\\dir' path@t any"},
    {"SELECT * FROM t WHERE name = 'it''s'", LKP, 0, "'it's' name@t any"},
    {"SELECT * FROM t WHERE name = E'\\u00e9t\\u00e9'", LKP, 0, "'été' name@t any"},
    {"SELECT * FROM t WHERE name = 'back\\slash'", LKP, 0, "'back\\slash' name@t any"},
    /* negative numbers, leading zeros, numerics */
    {"SELECT * FROM t WHERE id = -7", LKP, 0, "-7 id@t any"},
    {"SELECT * FROM t WHERE id = - 7", LKP, 0, "-7 id@t any"},
    {"SELECT * FROM t WHERE id = -9999999999", LKP, 0, "-9999999999 id@t any"},
    {"SELECT a FROM t WHERE-7 = id", LKP, 0, "-7 id@t < any"}, /* fuzz_shape: "WHEREid = ANY" */
    {"SELECT * FROM t WHERE id = - -7", LKP, 0, "7 id@t any"},
    {"SELECT * FROM t WHERE id = 007", LKP, 0, "007 id@t any"},
    {"SELECT * FROM t WHERE price = 1.50", LKP, 0, "1.50 price@t any"},
    {"SELECT * FROM t WHERE id = 9223372036854775807", LKP, 0, "9223372036854775807 id@t any"},
    /* casts, IN, key on the left, explicit operator */
    {"SELECT * FROM t WHERE id = '42'::int8", LKP, 0, "'42' id@t cast:int8"},
    {"SELECT * FROM t WHERE id = CAST($1 AS bigint)", LKP, 0, "$1 id@t cast:int8"},
    {"SELECT * FROM t WHERE code = CAST('x' AS text)", LKP, 0, "'x' code@t cast:text"},
    {"SELECT * FROM t WHERE id IN (7)", LKP, 0, "7 id@t in"},
    {"SELECT * FROM t WHERE 7 = id", LKP, 0, "7 id@t < any"},
    {"SELECT * FROM t WHERE id OPERATOR(pg_catalog.=) $1", LKP, 0, "$1 id@t any"},
    /* flags on lookups */
    {"SELECT DISTINCT ON (a) * FROM t WHERE b = $1 ORDER BY a, c", LKP, D | OB, "$1 b@t"},
    {"SELECT DISTINCT a FROM t WHERE b = $1", LKP, D, "$1 b@t"},
    {"SELECT a, count(*) FROM t WHERE b = $1 GROUP BY a", LKP, AG | GB, "$1 b@t"},
    {"SELECT a, row_number() OVER (ORDER BY a) FROM t WHERE b = $1", LKP, W, "$1 b@t"},
    {"SELECT count(*) OVER (), * FROM t WHERE id = $1", LKP, W, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 LIMIT 1 OFFSET 5", LKP, L | O, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 ORDER BY name LIMIT 5 OFFSET 10", LKP, L | O | OB, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 LIMIT ALL", LKP, 0, "$1 id@t any"},
    {"SELECT * FROM t WHERE id = $1 FETCH FIRST 1 ROWS ONLY", LKP, L, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 ORDER BY 1", LKP, OB, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 UNION ALL SELECT * FROM u WHERE uid = $1", LKP, SO, "$1 id@t reused | $1 uid@u reused"},
    {"SELECT a FROM t WHERE b = $1 HAVING count(*) > 1", LKP, AG, "$1 b@t"},
    {"SELECT array_agg(x ORDER BY y) FROM t WHERE id = $1", LKP, AG, "$1 id@t"},
    {"SELECT * FROM t WHERE id = $1 AND created_at < now()", LKP, 0, "$1 id@t any"},
    {"SELECT coalesce(nickname, name) FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT jsonb_build_object('id', id) FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    {"SELECT unnest(tags) FROM t WHERE id = $1", LKP, 0, "$1 id@t any"},
    /* table resolution */
    {"WITH x AS (SELECT * FROM t) SELECT * FROM x WHERE x.id = $1", LKP, WI, "$1 x.id@? any"},
    {"SELECT * FROM (SELECT * FROM t) s WHERE s.id = $1", LKP, SQ, "$1 s.id@? any"},
    {"SELECT * FROM public.t WHERE public.t.id = $1", LKP, 0, "$1 public.t.id@public.t any"},
    {"SELECT * FROM a JOIN b ON a.id = b.a_id WHERE id = $1", LKP, 0, "$1 id@? any"},
    {"SELECT * FROM generate_series(1, 10) g WHERE g = $1", LKP, 0, "$1 g@? any"},
    {"SELECT a.* FROM t AS a WHERE a.id = $1", LKP, 0, "$1 a.id@t any"},
    {"SELECT * FROM t WHERE t.id = $1", LKP, 0, "$1 t.id@t any"},
    {"SELECT * FROM t a JOIN t b ON a.p = b.id WHERE b.id = $1", LKP, 0, "$1 b.id@t any"},
    {"SELECT * FROM (a JOIN b ON a.id = b.a_id) j WHERE j.id = $1", LKP, 0, "$1 j.id@? any"},
    {"SELECT * FROM t WHERE nosuch.id = $1", LKP, 0, "$1 nosuch.id@? any"},
    /* transaction control */
    {"BEGIN", TX, 0, "begin"},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE", TX, 0, "begin iso=s"},
    {"START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", TX, 0, "begin iso=rr ro=1"},
    {"BEGIN READ WRITE", TX, 0, "begin ro=0"},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", TX, 0, "begin iso=s ro=1 def=1"},
    {"begin transaction isolation level read committed", TX, 0, "begin iso=rc"},
    {"COMMIT", TX, 0, "commit"},
    {"END", TX, 0, "commit"},
    {"COMMIT AND CHAIN", TX, 0, "commit chain"},
    {"ROLLBACK", TX, 0, "rollback"},
    {"ABORT", TX, 0, "rollback"},
    {"SAVEPOINT sp1", TX, 0, "savepoint name=sp1"},
    {"RELEASE SAVEPOINT sp1", TX, 0, "release name=sp1"},
    {"RELEASE sp1", TX, 0, "release name=sp1"},
    {"ROLLBACK TO SAVEPOINT sp1", TX, 0, "rollback_to name=sp1"},
    {"ROLLBACK TO sp1", TX, 0, "rollback_to name=sp1"},
    {"PREPARE TRANSACTION 'tx1'", TX, 0, "prepare name=tx1"},
    {"COMMIT PREPARED 'tx1'", TX, 0, "commit_prepared name=tx1"},
    {"ROLLBACK PREPARED 'tx1'", TX, 0, "rollback_prepared name=tx1"},
    /* session */
    {"SET search_path = a, b", SS, 0, "set search_path"},
    {"SET LOCAL statement_timeout = 0", SS, 0, "set statement_timeout local"},
    {"RESET search_path", SS, 0, "reset search_path reset"},
    {"RESET ALL", SS, 0, "reset_all"},
    {"SET ROLE bob", SS, 0, "set_role role"},
    {"RESET ROLE", SS, 0, "set_role role reset"},
    {"SET SESSION AUTHORIZATION bob", SS, 0, "set_auth session_authorization"},
    {"RESET SESSION AUTHORIZATION", SS, 0, "set_auth session_authorization reset"},
    {"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", SS, 0, "set_transaction transaction iso=rr"},
    {"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", SS, 0, "set_characteristics session characteristics ro=1"},
    {"DISCARD ALL", SS, 0, "discard discard=all"},
    {"DISCARD PLANS", SS, 0, "discard discard=plans"},
    {"SET TIME ZONE 'UTC'", SS, 0, "set timezone"},
    {"SET NAMES 'UTF8'", SS, 0, "set client_encoding"},
    {"SET application_name TO DEFAULT", SS, 0, "set application_name reset"},
    {"SET SCHEMA 'app'", SS, 0, "set search_path"},
    /* utility */
    {"CREATE TABLE t (id int8 PRIMARY KEY)", UT, 0, ""},
    {"DROP TABLE t", UT, 0, ""},
    {"ALTER TABLE t ADD COLUMN x int", UT, 0, ""},
    {"VACUUM ANALYZE t", UT, 0, ""},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", UT, 0, ""},
    {"LISTEN chan", UT, 0, ""},
    {"NOTIFY chan, 'x'", UT, 0, ""},
    {"PREPARE p AS SELECT * FROM t WHERE id = $1", UT, 0, ""},
    {"EXECUTE p(1)", UT, 0, ""},
    {"DEALLOCATE p", UT, 0, ""},
    {"COPY t TO STDOUT", UT, 0, ""},
    {"FETCH 10 FROM c", UT, 0, ""},
    {"CLOSE c", UT, 0, ""},
    {"CHECKPOINT", UT, 0, ""},
    {"GRANT SELECT ON t TO bob", UT, 0, ""},
    {"CREATE INDEX CONCURRENTLY i ON t (a)", UT, 0, ""},
    {"REFRESH MATERIALIZED VIEW mv", UT, 0, ""},
    {"CREATE TABLE t2 AS SELECT * FROM t", UT, 0, ""},
    {"EXPLAIN ANALYZE EXECUTE p(1)", UT, 0, ""},
    /* writes */
    {"INSERT INTO t (a) VALUES ($1) RETURNING id", WR, 0, ""},
    {"UPDATE t SET a = $1 WHERE id = $2", WR, 0, ""},
    {"DELETE FROM t WHERE id = $1", WR, 0, ""},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a", WR, 0, ""},
    {"COPY t FROM STDIN", WR, 0, ""},
    {"CALL do_thing(1)", WR, 0, ""},
    {"DO $$BEGIN NULL; END$$", WR, 0, ""},
    {"TRUNCATE t", WR, 0, ""},
    {"INSERT INTO t SELECT * FROM u WHERE id = $1", WR, 0, ""},
    {"EXPLAIN ANALYZE DELETE FROM t", WR, 0, ""},
    {"DECLARE c CURSOR FOR SELECT * FROM t WHERE id = $1 FOR UPDATE", WR, FU, ""},
    /* other reads */
    {"SHOW search_path", RD, 0, ""},
    {"EXPLAIN SELECT * FROM t WHERE id = $1", RD, 0, ""},
    {"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t WHERE id = 1", RD, 0, ""},
    {"EXPLAIN (ANALYZE false) DELETE FROM t", RD, 0, ""},
    {"VALUES (1), (2)", RD, VA, ""},
    {"SELECT 1", RD, 0, ""},
    {"SELECT version()", RD, 0, ""},
    {"DECLARE c CURSOR FOR SELECT * FROM t WHERE id = $1", RD, 0, ""},
    {"SELECT * FROM t", RD, 0, ""},
    {"SELECT now()", RD, 0, ""},
    {"TABLE t", RD, 0, ""},
    /* empty strings */
    {"", EMP, 0, ""},
    {"  -- just a comment", EMP, 0, ""},
    {";", EMP, 0, ""},
    {"/* */ ;", EMP, 0, ""},
    /* several statements: classified as a whole, never eligible */
    {"BEGIN; SELECT * FROM t WHERE id = 1; COMMIT", TX, MU, "commit"},
    {"SET x = 1; SELECT 1", SS, MU, "set x"},
    {"SELECT 1; SELECT 2", RD, MU, ""},
};
// clang-format on

#define NCASES (sizeof(corpus) / sizeof(corpus[0]))

#endif
