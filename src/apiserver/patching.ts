// Applies the four patch types to an object, turning patch failures into API errors.
import * as errors from '../machinery/errors.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from '../machinery/patch/index.js';
import type { PatchFn } from './rest.js';

export const applyPatch: PatchFn = (type, current, patch, definition) => {
  try {
    switch (type) {
      case 'json':
        return jsonPatch(current, patch);
      case 'merge':
        return mergePatch(current, patch);
      case 'strategic':
        return strategicMergePatch(current, patch, definition);
      case 'apply':
        // Until field ownership lands, an apply patch merges like a strategic merge patch.
        return definition ? strategicMergePatch(current, patch, definition) : mergePatch(current, patch);
    }
  } catch (err) {
    if (err instanceof PatchError) {
      if (err.reason === 'Invalid') throw new errors.ApiError(422, 'Invalid', err.message);
      if (err.reason === 'Conflict') throw new errors.ApiError(409, 'Conflict', err.message);
      throw errors.badRequest(err.message);
    }
    throw err;
  }
};
