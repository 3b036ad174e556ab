/* test_item_names.c — item names and metadata of ABI 1.1 (issue 15, item 5):
 * how key names, tombstones and checksums are written in an item frame
 * (the golden frame tests/data/golden-v2/frame-abi11.json, written once by
 * the commit that added it), what a reader refuses, and the escaping that
 * shows a name to people (FORMAT.md, "Names shown to people"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "repo/snapshot.h"
#include "util.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR (tests/data/golden-v2 in the source tree) must be defined"
#endif

/* ---- the golden frame ---------------------------------------------------- */

struct want {
	const char *name;
	enum arca_item_type type;
	uint32_t flags, mode, uid, gid;
	int64_t mtime;
	int32_t mtime_nsec;
	uint64_t size;
	const char *meta, *fp, *checksum;
	size_t chunks;
};

static const struct want golden[] = {
    {"/a//b/../c/", ARCA_ITEM_STREAM, ARCA_ITEM_KEY_NAME, 0, 0, 0, 1700000000, 5, 5,
     "content-type=image/png", "\"9b2cf535f27731c974343645a3985328\"",
     "md5:9b2cf535f27731c974343645a3985328", 1},
    {"new\nline\x1b[0m\\", ARCA_ITEM_STREAM, ARCA_ITEM_KEY_NAME, 0644, 1000, 1000, 1, 0, 0, NULL,
     NULL, NULL, 0},
    {"latin1-\xe9\xff", ARCA_ITEM_STREAM, ARCA_ITEM_KEY_NAME, 0, 0, 0, 0, 0, 3, NULL, NULL,
     "md5:\xfe", 1},
    {"..", ARCA_ITEM_TOMBSTONE, ARCA_ITEM_KEY_NAME, 0, 0, 0, 1700000100, 0, 0,
     "version=3 delete-marker", NULL, NULL, 0},
    {"dir/file", ARCA_ITEM_TOMBSTONE, 0, 0, 0, 0, 2, 0, 0, NULL, NULL, NULL, 0},
};

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void golden_frame_reads_and_writes_back(void **state)
{
	(void)state;
	char *path = xasprintf("%s/frame-abi11.json", GOLDEN_DIR), *text;
	size_t len;
	assert_int_equal(read_file(path, &text, &len), 0);
	free(path);
	while (len && text[len - 1] == '\n')
		text[--len] = 0;
	json_t *frame = json_loads(text, 0, NULL), *items = json_object_get(frame, "items");
	assert_non_null(items);
	assert_int_equal(json_array_size(items), sizeof golden / sizeof golden[0]);
	json_t *again = json_array();
	for (size_t i = 0; i < json_array_size(items); i++) {
		const struct want *w = &golden[i];
		json_t *it = json_array_get(items, i);
		struct arca_item_info info;
		assert_int_equal(item_from_json(it, &info), 0);
		assert_string_equal(info.name, w->name);
		assert_int_equal(info.type, w->type);
		assert_int_equal(info.flags, w->flags);
		assert_int_equal(info.mode, w->mode);
		assert_int_equal(info.uid, w->uid);
		assert_int_equal(info.gid, w->gid);
		assert_int_equal(info.mtime_sec, w->mtime);
		assert_int_equal(info.mtime_nsec, w->mtime_nsec);
		assert_int_equal(info.size, w->size);
		assert_true(same(info.meta, w->meta));
		assert_true(same(info.fingerprint, w->fp));
		assert_true(same(info.checksum, w->checksum));
		assert_int_equal(item_chunk_count(it), w->chunks);
		/* this writer still writes exactly these bytes */
		json_t *o = item_to_json(&info, info.size);
		json_object_set(o, "chunks", json_object_get(it, "chunks"));
		json_array_append_new(again, o);
	}
	json_t *f2 = json_pack("{s:i,s:o}", "seq", 0, "items", again);
	char *t2 = json_dumps(f2, JSON_COMPACT);
	assert_string_equal(t2, text);
	free(t2);
	json_decref(f2);
	json_decref(frame);
	free(text);
}

/* What a reader refuses rather than guess (FORMAT.md, "item"). */
static void malformed_items_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"name\":\"f\",\"key\":true,\"type\":\"file\",\"size\":0,\"chunks\":\"\"}",
	    "{\"name\":\"d\",\"key\":true,\"type\":\"dir\",\"size\":0,\"chunks\":\"\"}",
	    "{\"name\":\"k\",\"key\":1,\"type\":\"stream\",\"size\":0,\"chunks\":\"\"}",
	    "{\"name\":\"k\",\"key\":\"yes\",\"type\":\"stream\",\"size\":0,\"chunks\":\"\"}",
	    "{\"name\":\"t\",\"type\":\"tombstone\",\"size\":1,\"chunks\":\"\"}",
	    "{\"name\":\"t\",\"type\":\"tombstone\",\"size\":0,\"chunks\":"
	    "\"0101010101010101010101010101010101010101010101010101010101010101\"}",
	    "{\"name\":\"u\",\"type\":\"tombstone2\",\"size\":0,\"chunks\":\"\"}",
	    "{\"name_hex\":\"610062\",\"key\":true,\"type\":\"stream\",\"size\":0,\"chunks\":\"\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *it = json_loads(bad[i], 0, NULL);
		struct arca_item_info info;
		assert_non_null(it);
		if (item_from_json(it, &info) == 0)
			fail_msg("accepted: %s", bad[i]);
		json_decref(it);
	}
	/* a key of 4096 bytes is read, one of 4097 refused */
	for (size_t n = 4096; n <= 4097; n++) {
		char *name = xmalloc(n + 1);
		memset(name, 'k', n);
		name[n] = 0;
		json_t *it = json_pack("{s:s,s:b,s:s,s:i,s:s}", "name", name, "key", 1, "type",
		                       "stream", "size", 0, "chunks", "");
		struct arca_item_info info;
		assert_int_equal(item_from_json(it, &info) == 0, n == 4096);
		json_decref(it);
		free(name);
	}
}

/* ---- names shown to people ---------------------------------------------- */

static const struct {
	const char *in, *out;
} esc[] = {
    {"plain/name.txt", "plain/name.txt"},
    {"", ""},
    {"a\\b", "a\\\\b"},
    {"\\x41", "\\\\x41"},
    {"new\nline", "new\\x0aline"},
    {"\t\r\x01\x1f", "\\x09\\x0d\\x01\\x1f"},
    {"\x1b[31mred", "\\x1b[31mred"},
    {"del\x7f", "del\\x7f"},
    {"c1 \xc2\x9b\xc2\x80\xc2\x9f", "c1 \\xc2\\x9b\\xc2\\x80\\xc2\\x9f"},
    {"\xc2\xa0nbsp", "\xc2\xa0nbsp"},
    {"bidi \xe2\x80\xae \xe2\x81\xa6 \xe2\x80\x8f", "bidi \\xe2\\x80\\xae \\xe2\\x81\\xa6 \\xe2\\x80\\x8f"},
    {"\xc3\xbc" "ber \xe6\x97\xa5 \xf0\x9f\x93\xa6", "\xc3\xbc" "ber \xe6\x97\xa5 \xf0\x9f\x93\xa6"},
    {"latin1 \xe9\xff", "latin1 \\xe9\\xff"},
    {"overlong \xc0\xaf \xe0\x80\xaf", "overlong \\xc0\\xaf \\xe0\\x80\\xaf"},
    {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
    {"beyond \xf4\x90\x80\x80", "beyond \\xf4\\x90\\x80\\x80"},
    {"cut \xe6\x97", "cut \\xe6\\x97"},
    {"lead then ascii \xe6" "a", "lead then ascii \\xe6a"},
    {" spaces ", " spaces "},
};

/* The inverse of the escaping, to show that it loses nothing. */
static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *q = out;
	while (*s) {
		if (s[0] == '\\' && s[1] == '\\') {
			*q++ = '\\';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x') {
			unsigned v;
			assert_int_equal(sscanf(s + 2, "%2x", &v), 1);
			*q++ = (char)v;
			s += 4;
		} else {
			assert_true(s[0] != '\\');
			*q++ = *s++;
		}
	}
	*q = 0;
	return out;
}

static void escaping_is_safe_and_reversible(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++) {
		char *e = name_escape(esc[i].in);
		assert_string_equal(e, esc[i].out);
		assert_int_equal(name_escape_to(esc[i].in, NULL, 0), strlen(esc[i].out));
		for (const unsigned char *p = (const unsigned char *)e; *p; p++)
			assert_true(*p >= 0x20 && *p != 0x7f);
		char *back = unescape(e);
		assert_string_equal(back, esc[i].in);
		free(back);
		free(e);
	}
}

/* A short buffer is cut between characters and escapes, never in one. */
static void escaping_cuts_between_units(void **state)
{
	(void)state;
	char buf[8];
	assert_int_equal(name_escape_to("ab\ncd", buf, 5), 8);
	assert_string_equal(buf, "ab");
	assert_int_equal(name_escape_to("ab\ncd", buf, 7), 8);
	assert_string_equal(buf, "ab\\x0a");
	assert_int_equal(name_escape_to("\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", buf, 8), 8);
	assert_string_equal(buf, "\xc3\xbc\xc3\xbc\xc3\xbc");
	assert_int_equal(name_escape_to("\\\\\\\\", buf, 8), 8);
	assert_string_equal(buf, "\\\\\\\\\\\\");
	buf[0] = 'x';
	assert_int_equal(name_escape_to("abc", buf, 1), 3);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(golden_frame_reads_and_writes_back),
	    cmocka_unit_test(malformed_items_are_refused),
	    cmocka_unit_test(escaping_is_safe_and_reversible),
	    cmocka_unit_test(escaping_cuts_between_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
