import type { EntityManager } from 'typeorm';
import { FamilyMembers } from '../../entities/marketing/family-members.entity';
import { Member } from '../../entities/marketing/member.entity';
import { affectedRows, sqlTable } from '../../entities/raw-sql';
import { ZYEDU_TMS, type Student } from '../../integrations/school-tms/school-tms.client';
import { NO_COUNTS, upsertCounts, type SyncCounts } from './feed-run';
import { placeholders, valueRows } from './school-page';

/**
 * The children of members in `family_members`, from students of the school system, as set-based
 * statements over temporary tables of the connection (one transaction's): the page's students, the
 * (student, guardian) links, and the (member, student) pairs wanted. A guardian is a member when
 * `member.zy_member_info` (卓越会员ID) is the guardian's id (build type PARENTID), else when
 * `member.mobile` is the guardian's mobile (MOBILE). Only rows with third_code ZYEDU_TMS and relation
 * CHILDREN are ever written or removed; removal is the soft delete of the seed's `deleted` flag.
 */

export type BuildType = 'MOBILE' | 'PARENTID';

const STUDENTS = 'tmp_family_students';
const LINKS = 'tmp_family_links';
const PAIRS = 'tmp_family_pairs';
const TEMP = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
const LIVE_MEMBER = 'COALESCE(m.deleted, 0) = 0';
const OURS = `f.third_code = '${ZYEDU_TMS}' AND f.relation = 'CHILDREN' AND COALESCE(f.deleted, 0) = 0`;

/** The columns a duplicate updates, named with their table: the SELECT's temporary tables have some of the same names. */
const UPDATED = ['build_type', 'relation', 'name', 'sex', 'brithday', 'school_name', 'grade_name'] as const;

interface Tables {
  family: string;
  member: string;
}

const tablesOf = (m: EntityManager): Tables => ({ family: sqlTable(m, FamilyMembers).path, member: sqlTable(m, Member).path });

async function createTemps(m: EntityManager): Promise<void> {
  await dropTemps(m);
  await m.query(`CREATE TEMPORARY TABLE ${STUDENTS} (student_id VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(255) NULL, sex TINYINT NULL,
    birthday DATE NULL, school_name VARCHAR(255) NULL, grade_name VARCHAR(255) NULL, deleted TINYINT NOT NULL) ${TEMP}`);
  await m.query(`CREATE TEMPORARY TABLE ${LINKS} (student_id VARCHAR(64) NOT NULL, guardian_id VARCHAR(64) NOT NULL, mobile VARCHAR(45) NULL) ${TEMP}`);
  await m.query(`CREATE TEMPORARY TABLE ${PAIRS} (member_id BIGINT NOT NULL, student_id VARCHAR(64) NOT NULL, build_type VARCHAR(32) NOT NULL,
    PRIMARY KEY (member_id, student_id)) ${TEMP}`);
}

async function dropTemps(m: EntityManager): Promise<void> {
  await m.query(`DROP TEMPORARY TABLE IF EXISTS ${STUDENTS}, ${LINKS}, ${PAIRS}`);
}

async function stageStudents(m: EntityManager, students: readonly Student[]): Promise<void> {
  if (students.length === 0) return;
  await m.query(
    `INSERT INTO ${STUDENTS} VALUES ${valueRows(students.length, placeholders(7))}`,
    students.flatMap((s) => [s.id, s.name, s.sex, s.birthday, s.schoolName, s.gradeName, s.deleted ? 1 : 0]),
  );
}

/** Upserts the wanted pairs; `build_type` is kept from the first binding (a later run by the other key does not flip it). */
async function upsertPairs(m: EntityManager, t: Tables, now: Date): Promise<Omit<SyncCounts, 'deleted'>> {
  const [pairs] = (await m.query(`SELECT COUNT(*) AS n FROM ${PAIRS}`)) as { n: string | number }[];
  const rows = Number(pairs?.n ?? 0);
  if (rows === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  const [existing] = (await m.query(
    `SELECT COUNT(*) AS n FROM ${PAIRS} p JOIN ${t.family} f ON f.member_id = p.member_id AND f.third_code = ? AND f.third_member_id = p.student_id`,
    [ZYEDU_TMS],
  )) as { n: string | number }[];
  const result: unknown = await m.query(
    `INSERT INTO ${t.family} (member_id, third_code, build_type, third_member_id, relation, name, sex, brithday, school_name, grade_name, created_time, deleted)
     SELECT p.member_id, ?, p.build_type, p.student_id, 'CHILDREN', s.name, s.sex, s.birthday, s.school_name, s.grade_name, ?, 0
     FROM ${PAIRS} p JOIN ${STUDENTS} s ON s.student_id = p.student_id ORDER BY p.member_id, p.student_id
     ON DUPLICATE KEY UPDATE ${UPDATED.map((c) => `${t.family}.${c} = ${c === 'build_type' ? `COALESCE(${t.family}.${c}, VALUES(${c}))` : `VALUES(${c})`}`).join(', ')},
       ${t.family}.deleted = 0`,
    [ZYEDU_TMS, now],
  );
  return upsertCounts(affectedRows(result), rows, Number(existing?.n ?? 0));
}

/**
 * A page of the students feed: every guardian of a live student who is a member gets the student as
 * a child; children rows of the page's students whose guardian link is gone (or whose student was
 * deleted) are removed.
 */
export async function applyStudentPage(m: EntityManager, students: readonly Student[], now: Date): Promise<SyncCounts> {
  if (students.length === 0) return { ...NO_COUNTS };
  const t = tablesOf(m);
  await createTemps(m);
  try {
    await stageStudents(m, students);
    const links = students.filter((s) => !s.deleted).flatMap((s) => s.guardians.map((g) => [s.id, g.id, g.mobile]));
    if (links.length > 0) await m.query(`INSERT INTO ${LINKS} VALUES ${valueRows(links.length, placeholders(3))}`, links.flat());
    // PARENTID first: a guardian found by id keeps that build type when the mobile matches too.
    await m.query(`INSERT IGNORE INTO ${PAIRS} SELECT m.id, l.student_id, 'PARENTID' FROM ${LINKS} l JOIN ${t.member} m ON m.zy_member_info = l.guardian_id WHERE ${LIVE_MEMBER}`);
    await m.query(`INSERT IGNORE INTO ${PAIRS} SELECT m.id, l.student_id, 'MOBILE' FROM ${LINKS} l JOIN ${t.member} m ON m.mobile = l.mobile WHERE l.mobile IS NOT NULL AND ${LIVE_MEMBER}`);
    const counts = await upsertPairs(m, t, now);
    const deleted = affectedRows(
      await m.query(
        `UPDATE ${t.family} f JOIN ${STUDENTS} s ON f.third_member_id = s.student_id
         LEFT JOIN ${PAIRS} p ON p.member_id = f.member_id AND p.student_id = f.third_member_id
         SET f.deleted = 1 WHERE ${OURS} AND p.member_id IS NULL`,
      ),
    );
    return { ...counts, deleted };
  } finally {
    await dropTemps(m);
  }
}

/**
 * One member's children, on demand: the members whose mobile (MOBILE) or ZYEDU member id (PARENTID)
 * is the key get exactly the students the school system links to that guardian now; their other
 * ZYEDU children are removed. Returns how many members matched.
 */
export async function applyParentStudents(m: EntityManager, buildType: BuildType, key: string, students: readonly Student[], now: Date): Promise<SyncCounts & { members: number }> {
  const t = tablesOf(m);
  const column = buildType === 'MOBILE' ? 'mobile' : 'zy_member_info';
  await createTemps(m);
  try {
    await stageStudents(m, students);
    await m.query(`INSERT IGNORE INTO ${PAIRS} SELECT m.id, s.student_id, ? FROM ${t.member} m JOIN ${STUDENTS} s ON s.deleted = 0 WHERE m.${column} = ? AND ${LIVE_MEMBER}`, [buildType, key]);
    const counts = await upsertPairs(m, t, now);
    const deleted = affectedRows(
      await m.query(
        `UPDATE ${t.family} f JOIN ${t.member} m ON m.id = f.member_id AND m.${column} = ? AND ${LIVE_MEMBER}
         LEFT JOIN ${PAIRS} p ON p.member_id = f.member_id AND p.student_id = f.third_member_id
         SET f.deleted = 1 WHERE ${OURS} AND p.member_id IS NULL`,
        [key],
      ),
    );
    const [matched] = (await m.query(`SELECT COUNT(*) AS n FROM ${t.member} m WHERE m.${column} = ? AND ${LIVE_MEMBER}`, [key])) as { n: string | number }[];
    return { ...counts, deleted, members: Number(matched?.n ?? 0) };
  } finally {
    await dropTemps(m);
  }
}
