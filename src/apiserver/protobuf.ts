// The API server's side of application/vnd.kubernetes.protobuf: request bodies in, objects,
// lists, Status errors and watch streams out. Only built-in types have a protobuf form; custom
// resources answer 415/406 for it as upstream does (their PartialObjectMetadata aside).
import type { ServerResponse } from 'node:http';
import * as errors from '../machinery/errors.js';
import protobufMinimal from 'protobufjs/minimal.js';
import {
  ProtobufError,
  decodeEnvelope,
  encodeEnvelope,
  encodeListEnvelope,
  encodeMessage,
  envelope,
  messageFor,
  requireMessage,
} from '../machinery/protobuf/index.js';
import type { WatchSink } from './watch.js';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';
export const PROTOBUF_WATCH = `${PROTOBUF};stream=watch`;

export function isProtobuf(mediaType: string): boolean {
  return mediaType === PROTOBUF;
}

/** Does this built-in type have a protobuf form? */
export function hasProtobuf(apiVersion: string, kind: string): boolean {
  return messageFor(apiVersion, kind) !== undefined;
}

/** A request body; the expected type fills a missing apiVersion or kind (upstream's defaults). */
export function decodeProtobufBody(body: Buffer, expected?: { apiVersion: string; kind: string }): any {
  if (expected && !hasProtobuf(expected.apiVersion, expected.kind)) {
    throw errors.unsupportedMediaType(PROTOBUF, ['application/json', 'application/yaml']);
  }
  if (!body.length) throw errors.badRequest('the request body is empty');
  try {
    return decodeEnvelope(body, expected);
  } catch (err) {
    if (err instanceof ProtobufError || err instanceof RangeError)
      throw errors.badRequest(`the body of the request could not be decoded as protobuf: ${err.message}`);
    throw err;
  }
}

/** An object with its envelope; a type without protobuf form is a server error. */
export function encodeProtobuf(obj: any): Buffer {
  try {
    return encodeEnvelope(obj);
  } catch (err) {
    if (err instanceof ProtobufError) throw errors.internalError(err);
    throw err;
  }
}

/** Message bytes (no envelope) of objects as stored, encoded once per stored revision. */
const storedMessages = new WeakMap<object, Uint8Array>();

/**
 * The message bytes of an object as stored (shared with the cache, never modified): kept with
 * it, so reading it again in protobuf costs only the envelope.
 */
function storedMessage(name: string, obj: object): Uint8Array {
  let bytes = storedMessages.get(obj);
  if (!bytes) storedMessages.set(obj, (bytes = encodeMessage(name, obj)));
  return bytes;
}

export function encodeStoredProtobuf(obj: any): Buffer {
  return envelope(obj.apiVersion, obj.kind, storedMessage(requireMessage(obj.apiVersion, obj.kind), obj));
}

/** A list: ListMeta, then each item's message bytes (kept ones for objects as stored). */
export function encodeProtobufList(
  apiVersion: string,
  listKind: string,
  meta: Record<string, unknown>,
  items: any[],
  asStored: boolean,
): Buffer {
  try {
    // Items of a list share their type: resolved once.
    let itemKey = '';
    let itemName = '';
    const bytes = items.map((obj) => {
      const key = `${obj.apiVersion ?? apiVersion}/${obj.kind}`;
      if (key !== itemKey) {
        itemName = requireMessage(obj.apiVersion ?? apiVersion, obj.kind);
        itemKey = key;
      }
      return asStored ? storedMessage(itemName, obj) : encodeMessage(itemName, obj);
    });
    return encodeListEnvelope(apiVersion, listKind, encodeMessage('meta.v1.ListMeta', meta), bytes);
  } catch (err) {
    if (err instanceof ProtobufError) throw errors.internalError(err);
    throw err;
  }
}

/** A watch stream: each event a 4-byte big-endian length, then a WatchEvent (no envelope). */
export function protobufWatchSink(res: ServerResponse): WatchSink {
  let ended = false;
  const send = (frame: () => Buffer): boolean => {
    if (ended) return false;
    try {
      return res.write(frame());
    } catch (err) {
      // An object that cannot be encoded ends this watch (the client re-lists), not the others.
      ended = true;
      res.end(watchFrame({ type: 'ERROR', object: errors.internalError(err).toStatus() }));
      return false;
    }
  };
  res.writeHead(200, {
    'Content-Type': PROTOBUF_WATCH,
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders();
  return {
    // Event lines come rendered as JSON (shared with JSON watchers); each is re-encoded here.
    write: (line) => send(() => watchFrame(JSON.parse(line))),
    // Objects as stored: their kept message bytes, no JSON in between.
    writeStored: (type, stored) => send(() => storedWatchFrame(type, stored.obj)),
    backlog: () => res.writableLength,
    end: () => {
      ended = true;
      res.end();
    },
    onClose: (cb) => res.on('close', cb),
  };
}

export function watchFrame(event: { type: string; object: any }): Buffer {
  return frameOf(event.type, encodeEnvelope(event.object));
}

function storedWatchFrame(type: string, obj: any): Buffer {
  return frameOf(type, encodeStoredProtobuf(obj));
}

/** 4-byte big-endian length, then WatchEvent{type, object: RawExtension{raw: the object's envelope}}. */
function frameOf(type: string, object: Buffer): Buffer {
  const w = protobufMinimal.Writer.create();
  w.uint32(0x0a).string(type);
  w.uint32(0x12).fork();
  w.uint32(0x0a).bytes(object);
  w.ldelim();
  const msg = w.finish();
  const frame = Buffer.allocUnsafe(4 + msg.length);
  frame.writeUInt32BE(msg.length, 0);
  frame.set(msg, 4);
  return frame;
}
