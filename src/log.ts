// Logging: leveled messages to stderr or a log file. Without --log-level only
// warnings and errors are shown (on stderr), as the Rust bpf-linker does.

import { host } from "../ffi/host.ts";
import { LOG_LEVELS, type LogLevel } from "./options.ts";

const RANK: Record<LogLevel, number> = Object.fromEntries(LOG_LEVELS.map((l, i) => [l, i])) as never;

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => host.write(2, line) };

export function fileSink(path: string): LogSink {
  return { write: (line) => host.appendTextFile(path, line) };
}

/** Collects lines in memory (library API, tests). */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line.replace(/\n$/, ""));
  }
}

export class Logger {
  readonly level: LogLevel;
  readonly #sink: LogSink;

  constructor(level: LogLevel = "warn", sink: LogSink = stderrSink) {
    this.level = level;
    this.#sink = sink;
  }

  enabled(level: Exclude<LogLevel, "off">): boolean {
    return this.level !== "off" && RANK[level] <= RANK[this.level];
  }

  log(level: Exclude<LogLevel, "off">, message: string): void {
    if (this.enabled(level)) this.#sink.write(`${level === "warn" ? "warning" : level}: ${message}\n`);
  }

  error(message: string): void {
    this.log("error", message);
  }
  warn(message: string): void {
    this.log("warn", message);
  }
  info(message: string): void {
    this.log("info", message);
  }
  debug(message: string): void {
    this.log("debug", message);
  }
  trace(message: string): void {
    this.log("trace", message);
  }
}
