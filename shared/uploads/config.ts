import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { fragment, parsedBy } from '../config-fragment.js';
import { parseStorageUrl, type StorageLocation } from '../storage/url.js';

/** `config.uploads`: how long an upload lives, when its owner is warned, and where the files are. */
export interface UploadsConfig {
  ttlHours: number;
  noticeHours: number;
  storage?: StorageLocation;
}

const UploadsVariables = z.object({
  FILE_UPLOAD_TTL_HOURS: z._default(z.coerce.number().check(z.positive()), 24),
  // Six hours ahead: with the 24 h default TTL a wider window would notify at upload time, and the
  // hourly notify run then warns every upload 5–6 h before it goes, time enough to act on it.
  UPLOAD_NOTICE_HOURS: z._default(z.coerce.number().check(z.positive()), 6),
  UPLOADS_STORAGE_URL: z.optional(parsedBy(z.string(), (url) => parseStorageUrl(url, 'UPLOADS_STORAGE_URL'))),
});

export const uploadsFragment = fragment(
  UploadsVariables,
  (vars): UploadsConfig => ({
    ttlHours: vars.FILE_UPLOAD_TTL_HOURS,
    noticeHours: vars.UPLOAD_NOTICE_HOURS,
    ...(vars.UPLOADS_STORAGE_URL && { storage: vars.UPLOADS_STORAGE_URL }),
  }),
);
