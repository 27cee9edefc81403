/**
 * action.yml's `inputs:` section, written from the settings table (core's actionInputs) by
 * scripts/write-action-yml.mjs, and read back by a test that fails when the file and the table differ.
 */
import { actionInputs, type ActionInputDescriptor } from '@distill-gate/core';

/** An input as action.yml declares it. */
export interface DeclaredInput {
  description: string;
  default: string;
  required: boolean;
}

const specialStart = /^[\s\-?:,[\]{}#&*!|>'"%@`]/;
/** Words YAML reads as booleans or null; and anything that starts like a number (conservatively quoted). */
const reserved = /^(true|false|yes|no|on|off|y|n|null|~|[-+]?\.(inf|nan))$|^[-+.]?\d/i;

/** A YAML scalar: plain where YAML reads it back as the same string, else single-quoted. */
export function yamlScalar(s: string): string {
  const plain = s !== '' && !specialStart.test(s) && !/:\s|\s#|:$|\s$/.test(s) && !reserved.test(s);
  return plain ? s : `'${s.replace(/'/g, "''")}'`;
}

function unquote(s: string): string {
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  if (s.startsWith('"')) return JSON.parse(s) as string;
  return s;
}

/** The `inputs:` section for these inputs. */
export function renderInputs(inputs: Record<string, ActionInputDescriptor> = actionInputs()): string {
  const lines = ['inputs:'];
  for (const [name, input] of Object.entries(inputs)) {
    lines.push(`  ${name}:`, `    description: ${yamlScalar(input.description)}`);
    if (input.required) lines.push('    required: true');
    lines.push(`    default: ${yamlScalar(input.default)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Where the top-level `inputs:` section is: [first line, line after its last]. */
function inputsLines(lines: string[]): [number, number] {
  const start = lines.indexOf('inputs:');
  if (start < 0) throw new Error('action.yml has no top-level "inputs:" section');
  let end = start + 1;
  while (end < lines.length && /^\s+\S/.test(lines[end])) end++;
  return [start, end];
}

/** The file with its `inputs:` section replaced by the table's; the rest stays as it is. */
export function withInputs(yml: string, inputs: Record<string, ActionInputDescriptor> = actionInputs()): string {
  const lines = yml.split('\n');
  const [start, end] = inputsLines(lines);
  const section = renderInputs(inputs).trimEnd().split('\n');
  return [...lines.slice(0, start), ...section, ...lines.slice(end)].join('\n');
}

/** The inputs action.yml declares (the YAML the renderer writes: plain, single- or double-quoted scalars). */
export function declaredInputs(yml: string): Record<string, DeclaredInput> {
  const lines = yml.split('\n');
  const [start, end] = inputsLines(lines);
  const inputs: Record<string, DeclaredInput> = {};
  let current: DeclaredInput | undefined;
  for (const line of lines.slice(start + 1, end)) {
    const name = /^ {2}([\w-]+):\s*$/.exec(line);
    const field = /^ {4}(description|default|required):\s*(.*)$/.exec(line);
    if (name) inputs[name[1]] = current = { description: '', default: '', required: false };
    else if (field && current) {
      const value = unquote(field[2].trim());
      if (field[1] === 'required') current.required = value === 'true';
      else current[field[1] as 'description' | 'default'] = value;
    } else throw new Error(`action.yml: cannot read this line of the inputs section: ${line}`);
  }
  return inputs;
}

/** The table's inputs as action.yml should declare them. */
export function expectedInputs(): Record<string, DeclaredInput> {
  return Object.fromEntries(
    Object.entries(actionInputs()).map(([name, i]) => [
      name,
      { description: i.description, default: i.default, required: i.required },
    ]),
  );
}
