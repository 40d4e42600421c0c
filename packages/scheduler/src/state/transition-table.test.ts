/**
 * The table itself: every state reachable, every edge taken by a scenario, and anything the table
 * does not allow rejected with the task's story.
 */
import { describe, expect, test } from "vitest";
import { recommend } from "./effects.js";
import { drain, InvalidTransitionError, transition } from "./engine.js";
import { validateState } from "./invariants.js";
import type { TaskStatus } from "./task-state.js";
import { handlerFor, TRANSITIONS } from "./transition-table.js";
import { appliedEdges, ops, Sim, summarize, task, userError, type Sent } from "./test-helpers.js";

const ALL_STATUSES = ["released", "waiting", "queued", "no-worker", "processing", "memory", "erred", "forgotten"] as const;
// Fails to compile when TaskStatus gains a member this list lacks.
type Missing = Exclude<TaskStatus, (typeof ALL_STATUSES)[number]>;
const listsEveryStatus: [Missing] extends [never] ? true : never = true;

type TableEdge = keyof typeof TRANSITIONS;
const EDGES = Object.keys(TRANSITIONS) as TableEdge[];
const split = (edge: string) => edge.split("->") as [TaskStatus, TaskStatus];

/** Statuses reachable from `start` by direct edges. */
function reachableFrom(start: TaskStatus): Set<TaskStatus> {
  const seen = new Set<TaskStatus>([start]);
  const todo: TaskStatus[] = [start];
  for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
    for (const edge of EDGES) {
      const [from, to] = split(edge);
      if (from === s && !seen.has(to)) {
        seen.add(to);
        todo.push(to);
      }
    }
  }
  return seen;
}

describe("the table's shape", () => {
  test("every edge joins two different known statuses", () => {
    expect(listsEveryStatus).toBe(true);
    for (const edge of EDGES) {
      const [from, to] = split(edge);
      expect(ALL_STATUSES).toContain(from);
      expect(ALL_STATUSES).toContain(to);
      expect(from).not.toBe(to);
      expect(handlerFor(from, to)).toBe(TRANSITIONS[edge]);
    }
  });

  test('every status is reachable from "released" (no unreachable state)', () => {
    expect([...reachableFrom("released")].sort()).toEqual([...ALL_STATUSES].sort());
  });

  test('every status but "forgotten" can end in "forgotten" (no dead end), and "forgotten" is final', () => {
    for (const status of ALL_STATUSES.filter((s) => s !== "forgotten")) {
      expect(reachableFrom(status).has("forgotten"), status).toBe(true);
    }
    expect(EDGES.filter((edge) => edge.startsWith("forgotten->"))).toEqual([]);
  });

  test("every status a task can be computed from leads to processing, and processing leads to memory", () => {
    for (const status of ["waiting", "queued", "no-worker"] as const) expect(handlerFor(status, "processing"), status).toBeDefined();
    expect(handlerFor("processing", "memory")).toBeDefined();
  });
});

// --- one scenario per edge ---

const withWorker = () => {
  const h = new Sim();
  h.addClient("c1");
  h.addWorker("w1");
  return h;
};
const noWorkers = () => {
  const h = new Sim();
  h.addClient("c1");
  return h;
};
const threeRoots = (h: Sim) => h.submit([task("r-0"), task("r-1"), task("r-2")], ["r-0", "r-1", "r-2"]);

/** Fail a task directly: no event leads a queued or no-worker task to erred (they have no inputs that could fail). */
function failDirectly(h: Sim, key: string): Sent[] {
  const ts = h.task(key);
  ts.exception = userError("failed directly");
  ts.exceptionBlame = ts;
  const sent = summarize(drain(h.state, [recommend(ts, "erred")], "direct"));
  validateState(h.state);
  return sent;
}

/**
 * Each scenario ends right after the edge it is named for, and checks what that edge did. Typed by
 * the table's keys: a new edge without a scenario does not compile.
 */
const SCENARIOS: Record<TableEdge, () => Sim> = {
  "released->waiting": () => {
    const h = noWorkers();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    expect(h.status("b-1")).toBe("waiting");
    return h;
  },
  "released->memory": () => {
    const h = withWorker();
    const [put] = h.scatter([{ key: "d-1" }]);
    h.dataStored("w1", put?.msg.op === "put-data" ? put.msg.requestId : -1, "d-1");
    expect(h.whoHas("d-1")).toEqual(["w1"]);
    return h;
  },
  "released->erred": () => {
    const h = withWorker();
    expect(ops(h.submit([task("y-1", ["gone-1"])], ["y-1"]), "key-erred")).toHaveLength(1);
    return h;
  },
  "released->forgotten": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    h.release(["x-1"]);
    expect(h.state.tasks.has("x-1")).toBe(false);
    return h;
  },
  "waiting->processing": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    expect(h.processingOn("x-1")).toBe("w1");
    return h;
  },
  "waiting->queued": () => {
    const h = withWorker();
    threeRoots(h);
    expect(h.state.queued.has(h.task("r-2"))).toBe(true);
    return h;
  },
  "waiting->no-worker": () => {
    const h = noWorkers();
    h.submit([task("x-1")], ["x-1"]);
    expect(h.state.noWorker.has(h.task("x-1"))).toBe(true);
    return h;
  },
  "waiting->released": () => {
    const h = withWorker();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["a-1", "b-1"]);
    h.release(["b-1"]);
    expect(h.task("a-1").waiters.size).toBe(0);
    return h;
  },
  "waiting->erred": () => {
    const h = withWorker();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    h.fail("a-1");
    expect(h.task("b-1").exceptionBlame?.key).toBe("a-1");
    return h;
  },
  "queued->processing": () => {
    const h = withWorker();
    threeRoots(h);
    h.finish("r-0");
    expect(h.processingOn("r-2")).toBe("w1");
    return h;
  },
  "queued->no-worker": () => {
    const h = withWorker();
    threeRoots(h);
    h.removeWorker("w1");
    expect(h.status("r-2")).toBe("no-worker");
    return h;
  },
  "queued->released": () => {
    const h = withWorker();
    threeRoots(h);
    h.cancel(["r-2"]);
    expect(h.state.queued.size).toBe(0);
    return h;
  },
  "queued->erred": () => {
    const h = withWorker();
    threeRoots(h);
    expect(ops(failDirectly(h, "r-2"), "key-erred")).toEqual([
      { client: "c1", msg: { op: "key-erred", key: "r-2", blame: "r-2", error: userError("failed directly") } },
    ]);
    expect(h.state.queued.size).toBe(0);
    return h;
  },
  "no-worker->processing": () => {
    const h = noWorkers();
    h.submit([task("x-1")], ["x-1"]);
    h.addWorker("w1");
    expect(h.processingOn("x-1")).toBe("w1");
    return h;
  },
  "no-worker->queued": () => {
    const h = noWorkers();
    threeRoots(h);
    h.addWorker("w1");
    expect(h.status("r-2")).toBe("queued");
    return h;
  },
  "no-worker->released": () => {
    const h = noWorkers();
    h.submit([task("x-1")], ["x-1"]);
    h.cancel(["x-1"]);
    expect(h.state.noWorker.size).toBe(0);
    return h;
  },
  "no-worker->erred": () => {
    const h = noWorkers();
    h.submit([task("x-1")], ["x-1"]);
    expect(ops(failDirectly(h, "x-1"), "key-erred")).toHaveLength(1);
    expect(h.state.noWorker.size).toBe(0);
    return h;
  },
  "processing->memory": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    expect(h.whoHas("x-1")).toEqual(["w1"]);
    return h;
  },
  "processing->erred": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.fail("x-1");
    expect(h.worker("w1").processing.size).toBe(0);
    return h;
  },
  "processing->released": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    expect(ops(h.cancel(["x-1"]), "free-keys")).toHaveLength(1);
    return h;
  },
  "memory->released": () => {
    const h = withWorker();
    h.submit([task("x-1"), task("y-1", ["x-1"])], ["y-1"]);
    h.finish("x-1");
    h.finish("y-1");
    expect(h.status("x-1")).toBe("released");
    return h;
  },
  "erred->released": () => {
    const h = withWorker();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["a-1", "b-1"]);
    h.fail("a-1");
    h.release(["a-1"]);
    expect(h.task("a-1").exception).toBeUndefined();
    return h;
  },
  "erred->forgotten": () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.fail("x-1");
    h.release(["x-1"]);
    expect(h.state.tasks.size).toBe(0);
    return h;
  },
};

describe("every handler in TRANSITIONS is exercised", () => {
  test("there is one scenario per edge of the table", () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...EDGES].sort());
  });

  test.each(EDGES)("%s", (edge) => {
    const h = SCENARIOS[edge]();
    expect(appliedEdges(h)).toContain(edge);
  });
});

describe("transitions outside the table", () => {
  function inMemory(): Sim {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.finish("x-1");
    return h;
  }

  test("memory -> processing has no route and throws InvalidTransitionError with the task's story", () => {
    const h = inMemory();
    const ts = h.task("x-1");
    const story = h.state.story.describe("x-1");
    expect(story).toBe("released -> waiting (graph-updated-3); waiting -> processing (graph-updated-3); processing -> memory (finish-x-1-4)");
    const attempt = () => transition(h.state, ts, "processing", { stimulusId: "test" });
    expect(attempt).toThrow(InvalidTransitionError);
    expect(attempt).toThrow(`invalid transition memory -> processing for task x-1. Story: ${story}`);
    // Nothing was changed on the way.
    expect(ts.status).toBe("memory");
    expect(h.whoHas("x-1")).toEqual(["w1"]);
    validateState(h.state);
  });

  test("released -> queued and forgotten -> waiting throw too", () => {
    const h = withWorker();
    h.submit([task("a-1"), task("b-1", ["a-1"])], ["b-1"]);
    h.finish("a-1");
    h.finish("b-1");
    const a = h.task("a-1");
    expect(a.status).toBe("released");
    expect(() => transition(h.state, a, "queued", { stimulusId: "test" })).toThrow(/invalid transition released -> queued for task a-1\. Story: released -> waiting/);
    h.state.tasks.delete("a-1");
    a.status = "forgotten";
    expect(() => transition(h.state, a, "waiting", { stimulusId: "test" })).toThrow(InvalidTransitionError);
  });

  test('an edge missing from the table but with both halves through "released" is routed, and the story shows both', () => {
    const h = withWorker();
    h.submit([task("x-1")], ["x-1"]);
    h.fail("x-1");
    // erred -> waiting is not in the table: erred -> released -> waiting.
    const sent = summarize(drain(h.state, [recommend(h.task("x-1"), "waiting")], "retry-by-hand"));
    expect(sent).toMatchObject([{ worker: "w1", msg: { op: "compute-task", key: "x-1" } }]);
    expect(h.state.story.of("x-1").filter((e) => e.stimulusId === "retry-by-hand").map((e) => `${e.from}->${e.to}`)).toEqual([
      "erred->released",
      "released->waiting",
      "waiting->processing",
    ]);
  });

  test("a transition to the current status is a no-op", () => {
    const h = inMemory();
    expect(transition(h.state, h.task("x-1"), "memory", { stimulusId: "test" })).toEqual([]);
    expect(h.state.story.of("x-1")).toHaveLength(3);
  });

  test("a declined transition is recorded in the story with what it chose instead", () => {
    const h = noWorkers();
    h.submit([task("x-1")], ["x-1"]);
    expect(h.state.story.describe("x-1")).toBe(
      "released -> waiting (graph-updated-2); waiting -> processing (declined: no-worker) (graph-updated-2); waiting -> no-worker (graph-updated-2)",
    );
  });
});
