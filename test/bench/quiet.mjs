// Waiting for a quiet machine before a timed step. The load average lags (a one-minute decay)
// and counts the benchmark itself, so the test is on what the other processes use right now:
// CPU time of the whole machine (/proc/stat) minus this process's own, over a short window.
import fs from 'node:fs'

const USER_HZ = 100

function busyTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, , , irq, softirq, steal] = f // idle and iowait are not busy
  return user + nice + system + irq + softirq + (steal ?? 0)
}

/**
 * Starts a meter; calling the returned function gives the cores' worth of CPU that other
 * processes used since (machine busy time minus this process's own CPU time, children excluded:
 * use it around in-process work).
 */
export function meter() {
  const b0 = busyTicks()
  const c0 = process.cpuUsage()
  const t0 = Date.now()
  return () => {
    const busy = (busyTicks() - b0) / USER_HZ
    const c = process.cpuUsage(c0)
    const mine = (c.user + c.system) / 1e6
    return Math.max(0, busy - mine) / Math.max(0.001, (Date.now() - t0) / 1000)
  }
}

/** Cores' worth of CPU used by other processes during `ms` milliseconds. */
export async function othersCpu(ms = 2000) {
  const m = meter()
  await new Promise((r) => setTimeout(r, ms))
  return m()
}

export const load1 = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0])

/**
 * Waits until other processes use less than `maxCores` over a window of `windowMs`, at most
 * `timeoutMs`; returns what it saw last, so that the report can say how quiet it was.
 */
export async function waitQuiet({maxCores = 0.25, windowMs = 2000, timeoutMs = 15 * 60_000, say = () => {}} = {}) {
  const start = Date.now()
  let others = await othersCpu(windowMs)
  let told = false
  while (others > maxCores && Date.now() - start < timeoutMs) {
    if (!told) say(`waiting for a quiet machine (others use ${others.toFixed(2)} cores, load ${load1()})`)
    told = true
    others = await othersCpu(windowMs)
  }
  return {othersCores: Number(others.toFixed(2)), load1: load1(), waitedSeconds: Math.round((Date.now() - start) / 1000)}
}
