/**
 * A Hugging Face model folder's tokenizer: `tokenizer.json` run by @huggingface/tokenizers (pure JS, offline), the
 * special tokens (bos, eos, pad, unk) from tokenizer_config.json, config.json and generation_config.json, and the
 * chat template (`chat_template.jinja`, else tokenizer_config.json `chat_template`) rendered by @huggingface/jinja.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DistillGateError, MAX_JSON_BYTES, parseStrictJsonObject, refuseIrregular } from '@distill-gate/core';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { RenderTokenizer } from '../../tokenizers/render.js';
import type { HfConfigTokenIds } from './config.js';

export interface HfSpecialToken {
  id: number;
  token: string;
}

/** Token ids of a text, their pieces, and how many pieces the vocabulary did not know (encoded as unk). */
export interface HfEncoding {
  ids: number[];
  tokens: string[];
  unknown: number;
}

/** One chat message as chat templates receive it (OpenAI style; core's ChatMessage is one). */
export interface HfChatMessage {
  role: string;
  content?: string | null;
  tool_calls?: unknown;
  tool_call_id?: string;
  name?: string;
}

export interface RenderChatOptions {
  /** End with the header of an assistant turn (what the model completes). */
  addGenerationPrompt: boolean;
  /** Tool (function) definitions, in the JSON schema form chat templates expect. */
  tools?: unknown[];
  /** Other template variables (e.g. Qwen3's `enable_thinking`). */
  variables?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** A file of the model folder, read whole; a FIFO or device is refused before it is opened. */
async function readBytes(file: string): Promise<Buffer> {
  refuseIrregular(file, basename(file), MAX_JSON_BYTES);
  try {
    return await readFile(file);
  } catch (e) {
    throw new DistillGateError(`cannot read the file: ${(e as Error).message}`, { file });
  }
}

async function readJson(file: string, optional: boolean, bytes?: Buffer): Promise<Json | undefined> {
  if (optional && !existsSync(file)) return undefined;
  return parseStrictJsonObject((bytes ?? (await readBytes(file))).toString('utf8'), file, basename(file));
}

/** A special token's text in tokenizer_config.json: a string or an AddedToken object `{content}`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** Token ids listed under a key of generation_config.json (one id or a list). */
function idList(json: Json | undefined, key: string): number[] {
  const v = json?.[key];
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number' && Number.isSafeInteger(x));
}

interface TemplateSource {
  source: string;
  file: string;
  /** Named templates (tokenizer_config.json may hold a list: default, tool_use, ...). */
  named: Map<string, string>;
}

/** The chat template: chat_template.jinja wins over tokenizer_config.json's (as Hugging Face loads it). */
async function readChatTemplate(dir: string, config: Json | undefined): Promise<TemplateSource | undefined> {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return { source: (await readBytes(jinja)).toString('utf8'), file: jinja, named: new Map() };
  const file = join(dir, 'tokenizer_config.json');
  const t = config?.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return { source: t, file, named: new Map() };
  const named = new Map<string, string>();
  if (Array.isArray(t))
    for (const x of t)
      if (x && typeof x.name === 'string' && typeof x.template === 'string') named.set(x.name, x.template);
  const source = named.get('default') ?? [...named.values()][0];
  if (!source)
    throw new DistillGateError('"chat_template" must be a string or a list of {name, template}', {
      file,
      pointer: '/chat_template',
    });
  return { source, file, named };
}

export class HfTokenizer {
  /** Token ids run from 0 to vocabSize - 1 (the model vocabulary plus the added tokens). */
  readonly vocabSize: number;
  /** SHA-256 of tokenizer.json, the special tokens and the chat template. */
  readonly sha256: string;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly specials: { bos?: HfSpecialToken; eos?: HfSpecialToken; pad?: HfSpecialToken; unk?: HfSpecialToken },
    /** Every id that ends a generation (eos and generation_config.json's eos_token_id list). */
    readonly stopIds: number[],
    private readonly template: TemplateSource | undefined,
    tokenizerJson: Buffer,
  ) {
    this.vocabSize = tokenizer.model!.vocab.length;
    this.sha256 = createHash('sha256')
      .update(tokenizerJson)
      .update(JSON.stringify({ specials, stopIds, template: template?.source ?? null }))
      .digest('hex');
  }

  get bos(): HfSpecialToken | undefined {
    return this.specials.bos;
  }
  get eos(): HfSpecialToken | undefined {
    return this.specials.eos;
  }
  get pad(): HfSpecialToken | undefined {
    return this.specials.pad;
  }
  /** The chat template's source, and the file it came from. */
  get chatTemplate(): { source: string; file: string } | undefined {
    return this.template && { source: this.template.source, file: this.template.file };
  }

  /** Loads the tokenizer files of a model folder; `ids` are config.json's token ids. */
  static async load(dir: string, ids: HfConfigTokenIds = { eos: [] }): Promise<HfTokenizer> {
    const file = join(dir, 'tokenizer.json');
    if (!existsSync(file))
      throw new DistillGateError(
        'tokenizer.json is missing from the model folder',
        { file },
        'save the tokenizer with a fast (Rust-backed) tokenizer: tokenizer.save_pretrained(dir)',
      );
    const bytes = await readBytes(file);
    const json = await readJson(file, false, bytes);
    const config = await readJson(join(dir, 'tokenizer_config.json'), true);
    const generation = await readJson(join(dir, 'generation_config.json'), true);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json!, config ?? {});
    } catch (e) {
      throw new DistillGateError(`cannot load the tokenizer: ${(e as Error).message}`, { file });
    }
    const special = (key: 'bos' | 'eos' | 'pad' | 'unk', fallback: number[]): HfSpecialToken | undefined => {
      const text = tokenText(config?.[`${key}_token`]);
      if (text !== undefined) {
        const id = tokenizer.token_to_id(text);
        if (id === undefined)
          throw new DistillGateError(`${key}_token "${text}" is not a token of tokenizer.json`, {
            file: join(dir, 'tokenizer_config.json'),
            pointer: `/${key}_token`,
          });
        return { id, token: text };
      }
      const id = fallback[0];
      const token = id === undefined ? undefined : tokenizer.id_to_token(id);
      return token === undefined ? undefined : { id: id!, token };
    };
    const specials = {
      bos: special('bos', [...(ids.bos !== undefined ? [ids.bos] : []), ...idList(generation, 'bos_token_id')]),
      eos: special('eos', [...ids.eos, ...idList(generation, 'eos_token_id')]),
      pad: special('pad', [...(ids.pad !== undefined ? [ids.pad] : []), ...idList(generation, 'pad_token_id')]),
      unk: special('unk', []),
    };
    const stop = [...(specials.eos ? [specials.eos.id] : []), ...ids.eos, ...idList(generation, 'eos_token_id')];
    const template = await readChatTemplate(dir, config);
    return new HfTokenizer(tokenizer, specials, [...new Set(stop)], template, bytes);
  }

  /**
   * Token ids of a text. Special tokens the tokenizer's post-processor adds (e.g. a leading BOS) only with
   * `addSpecialTokens`: a rendered chat template already holds its own.
   */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): HfEncoding {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false });
    const unk = this.tokenizer.model?.unk_token_id;
    let unknown = 0;
    for (const id of ids as (number | undefined)[]) if (id === undefined || id === unk) unknown++;
    if (ids.some((id: unknown) => typeof id !== 'number'))
      throw new DistillGateError(
        'the text holds pieces the tokenizer does not know, and tokenizer.json has no unknown token to encode them',
      );
    return { ids, tokens, unknown };
  }

  /** The text of token ids, exactly (no clean-up of spaces before punctuation unless asked). */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean } = {}): string {
    if (!ids.length) return '';
    return this.tokenizer.decode(ids, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: opts.cleanUpSpaces ?? false,
    });
  }

  /**
   * The tokenizer as rendering a text record needs it (tokenizers/render.ts): ids of a text, the chat template
   * (where there is one), the end-of-sequence id, and the tokens that end a turn (every stop token's text).
   */
  forRendering(): RenderTokenizer {
    const endOfTurn = this.stopIds.map((id) => this.idToToken(id)).filter((t): t is string => t !== undefined);
    return {
      encode: (text, addSpecialTokens) => this.encode(text, { addSpecialTokens }),
      ...(this.template
        ? { renderChat: (messages, addGenerationPrompt) => this.renderChat(messages, { addGenerationPrompt }) }
        : {}),
      ...(this.eos ? { eosId: this.eos.id } : {}),
      endOfTurn,
    };
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /**
   * The chat rendered with the model's own chat template (with the special tokens' texts as bos_token, eos_token...
   * as Hugging Face's apply_chat_template passes them).
   */
  renderChat(messages: HfChatMessage[], opts: RenderChatOptions): string {
    const t = this.template;
    if (!t)
      throw new DistillGateError(
        'the model has no chat template (no chat_template.jinja, no "chat_template" in tokenizer_config.json)',
      );
    const source = (opts.tools?.length && t.named.get('tool_use')) || t.source;
    const specials = Object.fromEntries(
      Object.entries(this.specials)
        .filter(([, v]) => v)
        .map(([k, v]) => [`${k}_token`, v!.token]),
    );
    try {
      return new Template(source).render({
        ...specials,
        ...opts.variables,
        messages,
        add_generation_prompt: opts.addGenerationPrompt,
        ...(opts.tools ? { tools: opts.tools } : {}),
      });
    } catch (e) {
      throw new DistillGateError(`the chat template failed: ${(e as Error).message}`, { file: t.file });
    }
  }
}
