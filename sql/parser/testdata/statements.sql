# SELECT
SELECT 1
SELECT 1 FROM DUAL
select all a from t
SELECT DISTINCT a, b FROM t
select distinctrow a from t
SELECT * FROM t
SELECT t.*, a x, b AS y, c AS 'z', d "w" FROM t
SELECT a FROM db.t AS u WHERE u.a = 1
SELECT db.t.a FROM db.t
select a from t where a > 1 group by a having count(*) > 2 order by a desc, b limit 10
select a from t limit 5, 10
select a from t limit 10 offset 5
select a from t order by 1 asc
select * from t for update
select * from t lock in share mode
select * from t for share
select * from t for update nowait
# joins
select * from t join u on t.a = u.a
select * from t inner join u using (a, b)
select * from t left join u on t.a = u.a left outer join v on v.b = u.b
select * from t right join u on t.a = u.a
select * from t cross join u
select * from t, u, v
select * from t natural join u
select * from t natural left join u natural right join v
select * from t straight_join u on t.a = u.a
select * from (t join u on t.a = u.a) join v on v.a = t.a
select * from t join (u join v on u.a = v.a) on t.a = u.a
select * from (select a from t) as d where d.a > 1
select * from (select a from t) d(x)
select * from t use index (i) ignore index (j) where a = 1
# set operations
select a from t union select b from u
select a from t union all select b from u union distinct select c from v
(select a from t order by a limit 1) union (select b from u) order by 1 limit 2
select a from t union (select b from u union all select c from v)
select a from t intersect select b from u
select a from t except select b from u
select a from t union select b from u intersect select c from v
select a from t except select b from u intersect select c from v except select d from w
(select a from t union select b from u) intersect select c from v
select a from t intersect all select b from u except distinct select c from v
select * from (select a from t intersect select b from u) as x
select a from t where a in (select b from u except select c from v)
# WITH
with c as (select 1 as n) select n from c
with c (n) as (select 1), d as (select n from c) select * from d
with recursive c (n) as (select 1 union all select n + 1 from c where n < 3) select * from c
# expressions: literals
select 1, -1, 1.5, .5, 1e3, 1.5e-2, 18446744073709551616, 99999999999999999999999999
select 'a', 'it''s', "dq", 'a\'b', 'x\ny', 'a' 'b', N'nat', _utf8mb4'u', _binary'b', _latin1 'l'
select 0x1F, x'1f', X'', 0x123, b'101', 0b11, true, false, null, NULL
select date '2020-01-02', time '10:11:12', timestamp '2020-01-02 10:11:12'
select 'a%', 'a\%b', 'a\_b'
# expressions: operators
select a + b * c - d / e, a div b, a mod b, a % b, -a, +a, ~a, !a, - - a
select a & b | c ^ d, a << 2, a >> 1
select a = b, a <> b, a != b, a < b, a <= b, a > b, a >= b, a <=> b
select a and b or c, a && b || c, a xor b, not a, not (a and b)
select a is null, a is not null, a is true, a is not true, a is false, a is not false, a is unknown, a is not unknown
select a like 'x%', a not like 'x%', a like 'x!%' escape '!', a regexp 'x', a not regexp 'y', a rlike 'z'
select a in (1, 2, 3), a not in (1), (a, b) in ((1, 2), (3, 4)), a in (select b from u)
select a between 1 and 2, a not between 1 and 2, a between b + 1 and c
select case a when 1 then 'one' when 2 then 'two' else 'many' end, case when a > 1 then 1 end
select (select 1), exists (select 1 from t), not exists (select 1 from t), (1, 2), ((1))
select a collate utf8mb4_bin, binary a
select @a, @`a b`, @@version, @@session.autocommit, @@global.max_connections, @@local.sql_mode
select a = any (select b from u)
select @x := 1
# expressions: functions
select count(*), count(a), count(distinct a), count(distinct a, b), count(all a), COUNT( ALL a ), sum(all a), min(all a), max(ALL a)
select sum(a), sum(distinct a), avg(a), avg(distinct a), min(a), max(a), min(distinct a)
select std(a), stddev(a), stddev_pop(a), stddev_samp(a), variance(a), var_pop(a), var_samp(a), bit_and(a), bit_or(a), bit_xor(a)
select group_concat(a), group_concat(distinct a, b order by c desc, d separator '; '), group_concat(a separator '')
select coalesce(a, 1), ifnull(a, 1), nullif(a, 1), if(a, 1, 2), concat(a, 'x'), LOWER(a), Upper(a), length(a)
select cast(a as unsigned), cast(a as signed), cast(a as unsigned integer), cast(a as decimal(10,2)), cast(a as decimal), cast(a as char(3)), cast(a as char character set latin1), cast(a as binary), cast(a as date), cast(a as datetime(6)), cast(a as double), cast(a as json)
select convert(a, unsigned), convert(a using utf8mb4), convert(a, char)
select substring(a, 1), substring(a, 1, 2), substring(a from 2), substring(a from 1 for 2), substr(a, 1, 2), mid(a, 1, 2)
select trim(a), trim(leading 'x' from a), trim(trailing 'x' from a), trim(both 'x' from a), trim('x' from a), ltrim(a), rtrim(a)
select date_add(a, interval 1 day), date_sub(a, interval '1:2' hour_minute), adddate(a, interval 1 month), subdate(a, interval 2 year), a + interval 1 day, interval 1 day + a, a - interval 1 second
select extract(year from a), timestampdiff(day, a, b), timestampadd(minute, 5, a)
select current_timestamp, current_timestamp(), current_timestamp(3), now(), now(6), curdate(), current_date, curtime(), utc_timestamp(), localtime, sysdate()
select locate('a', b), locate('a', b, 2), position('a' in b), char(65, 66), insert('abc', 1, 2, 'x'), weight_string(a), interval(1, 2, 3)
select regexp_like(a, 'x'), regexp_instr(a, 'x'), regexp_replace(a, 'x', 'y'), regexp_substr(a, 'x', 1, 2)
select json_extract(a, '$.x'), a -> '$.x', a ->> '$.x', json_object('k', 1), json_array(1, 2)
select abs(-1), round(1.5, 0), floor(a), ceil(a), mod(a, 2), pow(2, 3), database(), user(), version(), last_insert_id(), found_rows(), row_count(), connection_id(), uuid(), rand()
select row_number() over (order by a) from t
select count(*) over () from t
select sum(a) over (partition by b) from t
select db.f(1)
# parameters
select ? + ?, a from t where b = ? limit ?
insert into t values (?, ?)
select :x
# INSERT / REPLACE
insert into t values (1, 'a'), (2, 'b')
insert into t (a, b) values (1, default)
insert ignore into db.t (a) values (1)
insert into t (a) select b from u where c = 1
insert into t select * from u union select * from v
insert into t (a, b) values (1, 2) on duplicate key update a = values(a), b = b + 1
insert into t set a = 1, b = 2
insert into t () values ()
insert into t values (1) as new on duplicate key update a = new.a
replace into t values (1)
replace into t (a) select 1
# UPDATE / DELETE
update t set a = 1
update t set a = a + 1, b = default where c = 2 order by d limit 3
update t as x set x.a = 1 where x.b = 2
update t, u set t.a = u.a where t.b = u.b
update t join u on t.a = u.a set t.b = 1
update ignore t set a = 1
delete from t
delete from t where a = 1 order by b desc limit 5
delete from db.t where a in (select b from u)
delete t from t join u on t.a = u.a
delete ignore from t
# databases
create database d
create database if not exists d default character set utf8mb4 collate utf8mb4_bin
create schema d
drop database d
drop database if exists d
drop schema if exists d
use d
use `my db`
# CREATE TABLE
create table t (a int)
create table if not exists d.t (id bigint unsigned not null auto_increment primary key, a varchar(20) not null default 'x' comment 'hi', b decimal(10,2) null, c double, d float, e tinyint(1), f char(5), g text, h blob, i date, j datetime(3), k timestamp, l boolean, m enum('x','y'), n set('p','q'), o binary(4), p varbinary(10), q smallint unsigned zerofill, r mediumint, s bigint, u int unique, v int key, w json, x time, y year, z bit(3))
create table t (a int, b int, primary key (a, b), unique key u (b), unique (a), index ix (b), key (a desc), key kp (b(10)), constraint pk primary key (a)) engine=InnoDB default charset=utf8mb4
create table t (a varchar(10) character set latin1 collate latin1_bin, b int default -1, c double default 1.5, d datetime default current_timestamp, e int default null)
create table t (a int, b int, foreign key (b) references u (a))
create table t (a int check (a > 0))
create table t (a timestamp default current_timestamp on update current_timestamp)
create table t (a int as (b + 1))
create temporary table t (a int)
create table t like u
create table if not exists t like d.u
create table t as select 1
create table t (a int) partition by hash (a)
# DROP / TRUNCATE / RENAME
drop table t
drop table if exists t, d.u
drop temporary table t
truncate t
truncate table d.t
rename table a to b
rename table a to b, d.c to d.e
# indexes
create index i on t (a)
create unique index i on d.t (a, b desc)
create index i on t (a(10))
create fulltext index i on t (a)
drop index i on t
drop index `primary` on t
# ALTER TABLE
alter table t add column c int unsigned not null default 5 after b
alter table t add c int first
alter table t add column (c int, d int)
alter table t drop column d, drop e
alter table t rename column a to b
alter table t change a b varchar(10) not null
alter table t modify a bigint
alter table t modify column a bigint after b
alter table t add index (a), add unique key u (b), add primary key (c), add key k (d)
alter table t drop index x, drop key y, drop primary key
alter table t rename to u
alter table t rename as d.u
alter table t engine = InnoDB
alter table t algorithm = inplace, add column c int
alter table t alter column a set default 1
alter table t add constraint fk foreign key (a) references u (a)
# transactions
begin
begin work
start transaction
start transaction read only
start transaction read write
start transaction with consistent snapshot
commit
commit work
commit and no chain
commit work and no chain no release
commit and chain
rollback and no chain
rollback release
rollback
rollback work
savepoint s
rollback to s
rollback to savepoint s
rollback work to savepoint s
release savepoint s
# SET
set @a = 1
set @a = 1, @b := 'x'
set @@session.autocommit = 0, @@global.max_connections = 10, @@x = 1
set session sql_mode = 'STRICT', global y = 3, local z = 4, w = 5
set autocommit = 1
set autocommit = on
set sql_mode = default
set names utf8mb4
set names 'utf8mb4' collate 'utf8mb4_bin'
set character set utf8mb4
set transaction isolation level read committed
set session transaction isolation level serializable
set global transaction read only
set transaction isolation level repeatable read, read write
set transaction isolation level read uncommitted
set persist max_connections = 10
# SHOW
show databases
show schemas
show tables
show full tables
show tables from d like 'x%'
show full tables in d where Table_type = 'VIEW'
show columns from t
show full columns from t from d
show fields from d.t like 'a%'
show index from t
show indexes from t from d
show keys in t
show create table t
show create table d.t
show create view v
show create database d
show create schema d
show variables
show global variables like 'x%'
show session variables where Variable_name = 'y'
show status
show global status
show session status like 'x'
show warnings
show errors
show engines
show storage engines
show collation
show collation like 'utf8%'
show charset
show character set
show processlist
show full processlist
show table status
show table status from d like 't%'
show warnings limit 10
show grants
show triggers
show plugins
# EXPLAIN / DESCRIBE
describe t
desc d.t
describe t a
explain t
explain select 1
explain analyze select * from t
explain format=tree select 1
explain format=json select 1
explain format=traditional select 1
explain insert into t values (1)
explain update t set a = 1
explain delete from t
# ANALYZE / CHECK
analyze table t
analyze table t, d.u
analyze local table t
analyze no_write_to_binlog table t
check table t
check table t, d.u quick
check table t for upgrade
# views
create view v as select 1
create view v (a, b) as select 1, 2
create or replace view d.v as select a from t where a > 1
create algorithm = merge view v as select 1
create view v as select 1 with check option
drop view v
drop view if exists v, d.w
# users and privileges
create user u
create user 'u'@'localhost'
create user if not exists 'u'@'%' identified by 'secret'
create user u@localhost identified by 'pw'
create user 'u'@'%' identified by 'pw', 'v'@'%'
create user 'u' identified with mysql_native_password by 'pw'
alter user 'u'@'%' identified by 'new'
alter user u identified by 'x'
drop user u
drop user if exists 'u'@'%'
grant all on *.* to 'u'@'%'
grant select, insert on d.* to u
revoke all privileges on *.* from 'u'@'%'
grant all on *.*
# locks, DO, other
lock tables t read, u write
lock table t read
lock table t
unlock tables
do 1
do 1, sleep(0), @a := 1
do 1 from t
select 1; select 2;
select 1;;select 2
-- a comment
/* only a comment */
select /* inline */ 1 -- trailing
select 1 # hash comment
select 1 /*!80000 + 1 */
select /*!80000 2 */ 1
select 1 /*!99999 + 1 */
load data infile 'x' into table t
optimize table t
repair table t
flush tables
kill 1
prepare s from 'select 1'
call p()
values row(1, 2)
create procedure p() begin end
handler t open
create trigger x after insert on t for each row begin end
drop trigger if exists x
