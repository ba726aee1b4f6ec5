import type { DataSource } from 'typeorm';
import { Member } from '../../entities/marketing/member.entity';
import type { Integrations } from '../../integrations';
import type { Guardian } from '../../integrations/school-tms/school-tms.client';
import { familySync } from '../../jobs/school/family-sync.job';
import { schoolSync } from '../../jobs/school/school-sync.job';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';

export interface SchoolDemoDeps {
  db: DataSource;
  integrations: Integrations;
  enqueue: Enqueue;
  log: Logger;
}

const HOUR_MS = 3_600_000;
const SCHOOLS = ['第一实验小学', '育才小学', '东关小学', '外国语学校', '北苑中学'];
const GRADES = ['一年级', '二年级', '三年级', '四年级', '五年级', '六年级'];

/**
 * `npm start` in development: the school system's emulator holds five schools (one closed since)
 * and twelve students of six families; two members of this start are two of those families'
 * guardians, one known by mobile, one by ZYEDU member id. school-sync and the nightly family-sync
 * run at once, then one member's family on demand, as the platform asks when a member binds.
 */
export async function seedSchoolDemo(deps: SchoolDemoDeps): Promise<void> {
  const { db, integrations, enqueue, log } = deps;
  const emulator = integrations.emulators.schoolTms;
  if (!emulator) return;
  const now = Date.now();
  SCHOOLS.forEach((name, i) => {
    emulator.putSchool({ id: String(1001 + i), name, province: '江苏', city: '南京', address: `建邺区示范路${i + 1}号`, status: 1, modifyId: '7', modifyName: '教务处' }, new Date(now - (5 - i) * HOUR_MS));
  });
  emulator.changeSchool('1005', { deleted: true });
  // Mobiles unique to this start, so members of earlier starts do not claim this start's children.
  const tag = String(now).slice(-7);
  const guardian = (f: number): Guardian => ({ id: `ZY${tag}${f}`, name: `家长${f}`, mobile: `13${f}${tag}0`.slice(0, 11), relation: f % 2 ? 'MOTHER' : 'FATHER' });
  for (let i = 0; i < 12; i++) {
    emulator.putStudent(
      { id: `${tag}${String(i).padStart(2, '0')}`, name: `学生${i + 1}`, sex: i % 2, birthday: `201${i % 8}-0${1 + (i % 9)}-1${i % 10}`, schoolName: SCHOOLS[i % 4] ?? null, gradeName: GRADES[i % 6] ?? null, guardians: [guardian(Math.floor(i / 2))] },
      new Date(now - (12 - i) * HOUR_MS),
    );
  }
  const stamps = { createdTime: new Date(now), updatedTime: new Date(now), deleted: 0 };
  const byMobile = await db.getRepository(Member).save({ name: '家长0', nickName: 'school-demo', mobile: guardian(0).mobile, ...stamps });
  const byParentId = await db.getRepository(Member).save({ name: '家长1', nickName: 'school-demo', mobile: `13${tag}999`.slice(0, 11), zyMemberInfo: guardian(1).id, ...stamps });
  await enqueue(schoolSync, {});
  await enqueue(familySync, {});
  await enqueue(familySync, { buildType: 'MOBILE', mobile: guardian(0).mobile ?? '' });
  log.info({ schools: SCHOOLS.length, students: 12, memberIds: [byMobile.id, byParentId.id] }, 'demo school data at the school system emulator: school-sync and family-sync enqueued');
}
