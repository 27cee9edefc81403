/** Where a problem is: any of file, line/column, JSON pointer, record index, byte offset, plugin name. */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  pointer?: string;
  record?: number;
  /** Byte offset in a binary file. */
  offset?: number;
  plugin?: string;
}

/**
 * An error caused by the user's input (config, dataset, plugin options, command line). The CLI prints it as
 * one located line and exits 2; it never shows a stack trace for these.
 */
export class DistillGateError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly location: ErrorLocation = {},
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DistillGateError';
  }

  /** `file:line:column (at /pointer, plugin x): message` */
  format(): string {
    const { file, line, column, pointer, record, offset, plugin } = this.location;
    const where: string[] = [];
    if (file) where.push(line !== undefined ? `${file}:${line}${column !== undefined ? `:${column}` : ''}` : file);
    const extra: string[] = [];
    if (pointer !== undefined) extra.push(`at ${pointer === '' ? '/' : pointer}`);
    if (record !== undefined) extra.push(`record ${record}`);
    if (offset !== undefined) extra.push(`byte ${offset}`);
    if (plugin) extra.push(`plugin ${plugin}`);
    const head = [where.join(''), extra.length ? `(${extra.join(', ')})` : ''].filter(Boolean).join(' ');
    return `${head ? `${head}: ` : ''}${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

export function isDistillGateError(e: unknown): e is DistillGateError {
  return e instanceof DistillGateError || (e instanceof Error && e.name === 'DistillGateError' && 'location' in e);
}
