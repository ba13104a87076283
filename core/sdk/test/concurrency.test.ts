import {describe, expect, it} from 'vitest'
import {Budget} from '../src/concurrency.js'

describe('Budget', () => {
  it('admits holders while they fit, then in order as amounts are released', async () => {
    const budget = new Budget(10)
    const order: string[] = []
    const a = await budget.acquire(6)
    const b = await budget.acquire(4)
    const c = budget.acquire(5).then((release) => (order.push('c'), release))
    // A small request does not overtake a waiting larger one.
    const d = budget.acquire(1).then((release) => (order.push('d'), release))
    await Promise.resolve()
    expect(order).toEqual([])
    a()
    const releaseC = await c
    const releaseD = await d
    expect(order).toEqual(['c', 'd'])
    b()
    releaseC()
    releaseD()
    // Releasing twice does not free the amount twice.
    releaseD()
    const e = await budget.acquire(10)
    let f = false
    void budget.acquire(1).then(() => (f = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(f).toBe(false)
    e()
    await new Promise((resolve) => setImmediate(resolve))
    expect(f).toBe(true)
  })

  it('tryAcquire takes what fits at once, never past a waiter, and says what is held', async () => {
    const budget = new Budget(10)
    const a = budget.tryAcquire(7)!
    expect(a).toBeDefined()
    expect(budget.tryAcquire(4)).toBeUndefined()
    const b = budget.tryAcquire(3)!
    expect(budget.used).toBe(10)
    b()
    let waiting = false
    const c = budget.acquire(5).then((release) => ((waiting = false), release))
    waiting = true
    // 3 would fit, but a waiter came first.
    expect(budget.tryAcquire(3)).toBeUndefined()
    a()
    const releaseC = await c
    expect(waiting).toBe(false)
    expect(budget.used).toBe(5)
    releaseC()
    expect(budget.used).toBe(0)
  })

  it('runs a holder larger than the whole budget alone', async () => {
    const budget = new Budget(10)
    const big = await budget.acquire(50)
    let small = false
    void budget.acquire(1).then(() => (small = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(small).toBe(false)
    big()
    await new Promise((resolve) => setImmediate(resolve))
    expect(small).toBe(true)
  })
})
