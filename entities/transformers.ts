import type { ValueTransformer } from 'typeorm';

/**
 * GORM's `int` is a MySQL `bigint`, which the driver hands back as a string (bigNumberStrings);
 * these columns hold small codes, so they are numbers in TypeScript.
 */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
