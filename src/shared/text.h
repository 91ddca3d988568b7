/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_TEXT_H
#define LATCH_SHARED_TEXT_H

/*
 * Strings from outside are data, not text: a process name, a certificate
 * field, an identity or charon's words can hold any bytes, and one escape or
 * newline among them must not break a listing, a log line or JSON. This is
 * the one rule latch cleans them by — latchd where they enter, latchctl and
 * liblatch where they leave — and the rule the IPC codec holds every string
 * a client sends to. Pure: no I/O.
 *
 * Clean text is UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF) without the characters that steer a terminal instead of
 * showing: C0 controls (U+0000–U+001F), DEL, C1 controls (U+0080–U+009F),
 * the line and paragraph separators and the bidi embeddings, overrides and
 * isolates (U+2028–U+202E, U+2066–U+2069) that break or reorder a line.
 * Cleaning writes each byte outside that as "\xNN" (lower-case hex) and
 * copies everything else, the backslash too: DNs escape with it (RFC 4514),
 * and a cleaned identity must still equal what clients and charon write for
 * it. So cleaning clean text changes nothing, and cleaning twice is
 * cleaning once.
 */

#include <stddef.h>

/* Bytes of the clean character at s (1–4), or 0: its first byte is escaped. n > 0. */
size_t text_char(const char *s, size_t n);

/* Bytes of s[0..n) before the first one cleaning would change (n when s is clean). */
size_t text_clean_prefix(const char *s, size_t n);

/*
 * Clean n bytes of in into out (cap bytes, NUL included), cut before the
 * first character or escape that does not fit, never inside one. Returns
 * the length of the whole cleaned text, like snprintf: >= cap means it was
 * cut. cap 0 writes nothing (out may be NULL): a size query.
 */
size_t text_clean(char *out, size_t cap, const char *in, size_t n);

/* A cleaned copy of the string s (malloc'd, caller frees), or NULL on ENOMEM. */
char *text_dup(const char *s);

#endif
