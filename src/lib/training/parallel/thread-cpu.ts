import {readFileSync} from 'node:fs'

/** Linux reports thread CPU time in clock ticks of 1/100 s (USER_HZ). */
const MS_PER_TICK = 10
/** utime and stime: fields 14 and 15 of /proc/…/stat, counted after the ")" that ends the command name. */
const UTIME_AFTER_NAME = 11

/**
 * CPU time (user + system) the calling thread has used, in ms at 10 ms resolution; undefined where
 * /proc/thread-self does not exist (not Linux). On a busy machine a step's wall time says more about
 * the other processes than about the step: summed over many steps, CPU time does not.
 */
export function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[UTIME_AFTER_NAME]) + Number(fields[UTIME_AFTER_NAME + 1])) * MS_PER_TICK
  } catch {
    return undefined
  }
}
