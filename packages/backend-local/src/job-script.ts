import type { JobSpec } from "@skein/core";

/** A POSIX sh script: the prologue, then `exec` the worker supervisor (so signals reach it directly). */
export function localJobScript(job: JobSpec): string {
  const command = [...job.workerCommand, ...job.workerArgs].map(shellQuote).join(" ");
  return ["#!/bin/sh", "# Skein local job: the cluster secret arrives in SKEIN_SECRET, never on this command line.", ...job.prologue, `exec ${command}`, ""].join("\n");
}

/** Quote for sh and tcsh alike: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}
