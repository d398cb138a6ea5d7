/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-mtree: rebuild a memory map printed by QEMU's `info mtree -D`
 * with libloopback and print it again with the library's own printer.
 *
 * The input is parsed into "occurrences" (one per printed line).  QEMU
 * prints a region more than once when it is an alias target that is also
 * part of a tree (a `memory-region:` section re-prints it), so occurrences
 * are grouped into regions first; then every region is created once with
 * the memory API, wired up, and the address spaces are initialised.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <glib.h>

#include <loopback/memory.h>

#define PROG "loopback-mtree"

/* Exit statuses. */
#define EXIT_IO		1
#define EXIT_BAD	2

static void print_help(FILE *out)
{
	fputs(
"Usage: " PROG " [OPTION]... FILE\n"
"Rebuild the memory map that QEMU's `info mtree -D` printed into FILE\n"
"(`-` for standard input) with libloopback, and print it again.\n"
"\n"
"  -f, --flatview          print the rendered flat views (`info mtree -f`)\n"
"  -D, --disabled          also print disabled regions (`info mtree -D`)\n"
"      --terminates NAME   i/o regions called NAME that have children are\n"
"                          io regions (they fill the gaps between their\n"
"                          children), not containers\n"
"      --container NAME    i/o regions called NAME without children are\n"
"                          empty containers, not io regions\n"
"      --readonly NAME     regions called NAME are read-only (this does not\n"
"                          show in the tree, only in the flat view)\n"
"  -h, --help              print this help and exit\n"
"      --version           print the version and exit\n"
"\n"
"NAME options may be repeated.  Exit status: 0 on success, 1 on an I/O or\n"
"allocation error, 2 on bad usage or malformed input.\n", out);
}

enum {
	OPT_TERMINATES = 256,
	OPT_CONTAINER,
	OPT_READONLY,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "flatview",	no_argument,		NULL, 'f' },
	{ "disabled",	no_argument,		NULL, 'D' },
	{ "terminates",	required_argument,	NULL, OPT_TERMINATES },
	{ "container",	required_argument,	NULL, OPT_CONTAINER },
	{ "readonly",	required_argument,	NULL, OPT_READONLY },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Flags given by name on the command line. */
#define HINT_TERMINATES	(1u << 0)
#define HINT_CONTAINER	(1u << 1)
#define HINT_READONLY	(1u << 2)

static const char *const hint_option[] = {
	"--terminates", "--container", "--readonly",
};

struct options {
	bool flatview;
	bool disabled;
	const char *file;
	GHashTable *hints;	/* name -> GUINT_TO_POINTER(HINT_* bits) */
};

static void usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help' for more information.\n", stderr);
	exit(EXIT_BAD);
}

static void add_hint(struct options *o, const char *name, unsigned int bit)
{
	unsigned int bits;

	bits = GPOINTER_TO_UINT(g_hash_table_lookup(o->hints, name)) | bit;
	if ((bits & HINT_TERMINATES) && (bits & HINT_CONTAINER))
		usage_error("'%s' given with both --terminates and --container",
			    name);
	g_hash_table_replace(o->hints, g_strdup(name), GUINT_TO_POINTER(bits));
}

static void parse_options(struct options *o, int argc, char **argv)
{
	int c;

	o->hints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 NULL);
	while ((c = getopt_long(argc, argv, "fDh", long_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->flatview = true;
			break;
		case 'D':
			o->disabled = true;
			break;
		case OPT_TERMINATES:
			add_hint(o, optarg, HINT_TERMINATES);
			break;
		case OPT_CONTAINER:
			add_hint(o, optarg, HINT_CONTAINER);
			break;
		case OPT_READONLY:
			add_hint(o, optarg, HINT_READONLY);
			break;
		case 'h':
			print_help(stdout);
			exit(EXIT_SUCCESS);
		case OPT_VERSION:
			printf("%s (%s) %s\n", PROG, PACKAGE_NAME,
			       PACKAGE_VERSION);
			exit(EXIT_SUCCESS);
		default:
			/* getopt_long already said what is wrong */
			fputs("Try '" PROG " --help' for more information.\n",
			      stderr);
			exit(EXIT_BAD);
		}
	}
	if (optind == argc)
		usage_error("missing FILE operand");
	if (optind + 1 != argc)
		usage_error("extra operand '%s'", argv[optind + 1]);
	o->file = argv[optind];
}

/* ------------------------------------------------------------------ */
/* Input model                                                         */
/* ------------------------------------------------------------------ */

typedef unsigned __int128 u128;

enum mr_type { T_IO, T_RAM, T_ROM, T_ROMD, T_RAMD, T_COUNT };
static const char *const type_names[T_COUNT] = {
	"i/o", "ram", "rom", "romd", "ramd",
};

struct region;
struct block;

/* One printed region line. */
struct node {
	char *name;
	uint64_t start;		/* absolute, as printed */
	u128 size;
	int32_t prio;
	enum mr_type type;
	bool nv;
	bool disabled;
	bool alias;
	char *target_name;
	uint64_t alias_offset;
	unsigned int line;
	struct node *parent;
	struct block *block;
	GPtrArray *children;	/* of struct node *, printed order */
	struct node *uf;	/* union-find link: same region as uf */
	struct region *region;
};

/* An `address-space:` group with its root, or a `memory-region:` section. */
struct block {
	bool section;
	char *name;		/* section name */
	GPtrArray *as_names;	/* of char *, address-space blocks only */
	unsigned int line;
	struct node *top;
	bool used;		/* section: some alias resolved to it */
};

/* One memory region: the occurrences that print it, unified. */
struct region {
	struct node *rep;	/* the defining occurrence */
	struct region *container;
	struct region *target;	/* alias target */
	unsigned int hints;
	int visit;		/* loop check: 0 new, 1 on stack, 2 done */
	MemoryRegion *mr;
	void *ram_device;	/* mmap()ed backing of a ramd region */
	uint64_t ram_device_len;
};

struct input {
	const char *fname;	/* as shown in messages */
	GPtrArray *blocks;	/* of struct block * */
	GPtrArray *nodes;	/* of struct node *, in line order */
	GPtrArray *regions;	/* of struct region * */
	GHashTable *sections;	/* name -> GPtrArray of struct block * */
	unsigned int nr_lines;
};

static void bad_input(const struct input *in, unsigned int line,
		      const char *fmt, ...) G_GNUC_PRINTF(3, 4) G_GNUC_NORETURN;
static void bad_input(const struct input *in, unsigned int line,
		      const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s:%u: ", in->fname, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_BAD);
}

static void node_free(void *p)
{
	struct node *n = p;

	g_free(n->name);
	g_free(n->target_name);
	if (n->children)
		g_ptr_array_unref(n->children);
	g_free(n);
}

static void block_free(void *p)
{
	struct block *b = p;

	g_free(b->name);
	if (b->as_names)
		g_ptr_array_unref(b->as_names);
	g_free(b);
}

static void input_free(struct input *in)
{
	g_ptr_array_unref(in->regions);
	g_hash_table_unref(in->sections);
	g_ptr_array_unref(in->blocks);
	g_ptr_array_unref(in->nodes);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* 1 to 16 hex digits, nothing else: strtoull would accept too much. */
static bool parse_hex(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	while (g_ascii_isxdigit(*s)) {
		if (n == 16)
			return false;
		v = v << 4 | (uint64_t)g_ascii_xdigit_value(*s);
		s++;
		n++;
	}
	if (!n)
		return false;
	*p = s;
	*out = v;
	return true;
}

static bool parse_prio(const char **p, int32_t *out)
{
	const char *s = *p;
	bool neg = false;
	int64_t v = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!g_ascii_isdigit(*s))
		return false;
	while (g_ascii_isdigit(*s)) {
		v = v * 10 + (*s - '0');
		if (v > (int64_t)INT32_MAX + 1)
			return false;
		s++;
	}
	if (neg)
		v = -v;
	if (v > INT32_MAX || v < INT32_MIN)
		return false;
	*p = s;
	*out = (int32_t)v;
	return true;
}

static bool skip(const char **p, const char *lit)
{
	size_t len = strlen(lit);

	if (strncmp(*p, lit, len))
		return false;
	*p += len;
	return true;
}

/* "START-END" with its size; END may not be below START. */
static bool parse_range(const char **p, uint64_t *start, uint64_t *end)
{
	return parse_hex(p, start) && skip(p, "-") && parse_hex(p, end);
}

/*
 * The text after the indentation of a region line.  @overflow: QEMU marked
 * the line because its addresses wrapped around 2^64.
 */
static struct node *parse_region(const struct input *in, unsigned int line,
				 const char *s, bool overflow)
{
	struct node *n;
	uint64_t start, end;
	const char *t, *name;
	int32_t prio;
	size_t len;
	int i;

	if (!parse_range(&s, &start, &end))
		bad_input(in, line, "expected START-END (hex addresses)");
	if (end < start && !overflow)
		bad_input(in, line, "end address %" PRIx64
			  " is below start address %" PRIx64, end, start);
	if (!skip(&s, " (prio ") || !parse_prio(&s, &prio) || !skip(&s, ", "))
		bad_input(in, line, "expected ' (prio N, TYPE): NAME' "
			  "after the address range");
	t = strstr(s, "): ");
	if (!t)
		bad_input(in, line, "expected '): NAME' after the type");

	n = g_new0(struct node, 1);
	n->line = line;
	n->start = start;
	n->size = (u128)(uint64_t)(end - start) + 1;
	n->prio = prio;
	if (!strncmp(s, "nv-", 3)) {
		n->nv = true;
		s += 3;
	}
	for (i = 0; i < T_COUNT; i++)
		if ((size_t)(t - s) == strlen(type_names[i]) &&
		    !strncmp(s, type_names[i], t - s))
			break;
	if (i == T_COUNT)
		bad_input(in, line, "unknown region type '%.*s'",
			  (int)(t - s), s);
	n->type = (enum mr_type)i;

	/*
	 * 2^64 - 1 cannot be passed to the API: UINT64_MAX means 2^64, and
	 * QEMU cannot print such a region either.
	 */
	if (n->size == ((u128)1 << 64) - 1)
		bad_input(in, line, "a size of 2^64-1 cannot be represented");

	name = t + 3;
	len = strlen(name);
	if (len >= 11 && !strcmp(name + len - 11, " [disabled]")) {
		n->disabled = true;
		len -= 11;
	}
	if (strncmp(name, "alias ", 6)) {
		n->name = g_strndup(name, len);
		return n;
	}

	/* alias NAME @TARGET START-END: names may hold spaces, split right */
	{
		char *rest = g_strndup(name + 6, len - 6);
		char *sp = strrchr(rest, ' ');
		char *at;
		const char *r;
		uint64_t ts, te;

		if (!sp)
			bad_input(in, line,
				  "alias without '@TARGET START-END'");
		*sp = '\0';
		at = g_strrstr(rest, " @");
		if (!at || !at[2])
			bad_input(in, line, "alias without '@TARGET'");
		r = sp + 1;
		if (!parse_range(&r, &ts, &te) || *r)
			bad_input(in, line, "bad alias target range '%s'",
				  sp + 1);
		/* the target range is offset..offset+size-1, modulo 2^64 */
		if ((uint64_t)(ts + n->size - 1) != te)
			bad_input(in, line, "alias target range %" PRIx64
				  "-%" PRIx64 " is not as long as the alias",
				  ts, te);
		n->alias = true;
		n->alias_offset = ts;
		n->target_name = g_strdup(at + 2);
		n->name = g_strndup(rest, at - rest);
		g_free(rest);
	}
	return n;
}

static void close_block(const struct input *in, struct block *b)
{
	if (b && !b->top)
		bad_input(in, b->line, "%s header without a region tree",
			  b->section ? "memory-region:" : "address-space:");
}

static struct block *new_block(struct input *in, unsigned int line,
			       bool section)
{
	struct block *b = g_new0(struct block, 1);

	b->line = line;
	b->section = section;
	if (!section)
		b->as_names = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(in->blocks, b);
	return b;
}

static void parse_line(struct input *in, GPtrArray *stack,
		       struct block **curp, char *s, unsigned int line)
{
	struct block *cur = *curp;
	static const char overflow_mark[] = "[DETECTED OVERFLOW!] ";
	struct node *n, *parent;
	size_t spaces, depth;
	bool overflow = false;

	if (!*s) {
		/* a blank line ends a block */
		close_block(in, cur);
		*curp = NULL;
		return;
	}
	if (!strncmp(s, "address-space: ", 15)) {
		/* consecutive headers name the address spaces of one root */
		if (!cur || cur->section || cur->top) {
			close_block(in, cur);
			cur = *curp = new_block(in, line, false);
		}
		g_ptr_array_add(cur->as_names, g_strdup(s + 15));
		return;
	}
	if (!strncmp(s, "memory-region: ", 15)) {
		close_block(in, cur);
		cur = *curp = new_block(in, line, true);
		cur->name = g_strdup(s + 15);
		return;
	}
	if (!strncmp(s, overflow_mark, sizeof(overflow_mark) - 1)) {
		overflow = true;
		s += sizeof(overflow_mark) - 1;
	}
	if (s[0] != ' ')
		bad_input(in, line, "not an address-space:, memory-region: "
			  "or region line");
	if (!cur)
		bad_input(in, line, "region line outside an address-space: "
			  "or memory-region: block");

	spaces = strspn(s, " ");
	if (spaces % 2 || spaces < 2)
		bad_input(in, line, "indentation of %zu spaces is not a "
			  "positive multiple of 2", spaces);
	depth = spaces / 2 - 1;
	if (!cur->top && depth)
		bad_input(in, line, "first region of a block must be "
			  "indented by 2 spaces, not %zu", spaces);
	if (cur->top && !depth)
		bad_input(in, line, "second top-level region in one block");
	if (depth > stack->len)
		bad_input(in, line, "indentation jumps from %u to %zu spaces",
			  2 * stack->len, spaces);

	n = parse_region(in, line, s + spaces, overflow);
	n->block = cur;
	g_ptr_array_add(in->nodes, n);
	g_ptr_array_set_size(stack, depth);
	if (!depth) {
		cur->top = n;
		if (cur->section && strcmp(n->name, cur->name))
			bad_input(in, line, "section 'memory-region: %s' shows "
				  "region '%s'", cur->name, n->name);
	} else {
		parent = g_ptr_array_index(stack, depth - 1);
		if (parent->alias)
			bad_input(in, line, "alias '%s' (line %u) cannot have "
				  "subregions", parent->name, parent->line);
		/* QEMU never prints a child that starts before its parent */
		if (n->start < parent->start && !overflow)
			bad_input(in, line, "region starts at %" PRIx64
				  ", before its container '%s' (line %u)",
				  n->start, parent->name, parent->line);
		n->parent = parent;
		if (!parent->children)
			parent->children = g_ptr_array_new();
		g_ptr_array_add(parent->children, n);
	}
	g_ptr_array_add(stack, n);
}

static void read_input(struct input *in, FILE *f, const char *path)
{
	GPtrArray *stack = g_ptr_array_new();
	struct block *cur = NULL;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned int line = 0, i;

	errno = 0;
	while ((len = getline(&buf, &cap, f)) >= 0) {
		line++;
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		/* the monitor on a terminal ends lines with \r\n */
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (strlen(buf) != (size_t)len)
			bad_input(in, line, "NUL byte in line");
		parse_line(in, stack, &cur, buf, line);
		errno = 0;
	}
	if (ferror(f)) {
		fprintf(stderr, PROG ": %s: %s\n", path, g_strerror(errno));
		exit(EXIT_IO);
	}
	free(buf);
	g_ptr_array_unref(stack);
	in->nr_lines = line;
	close_block(in, cur);
	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (!b->section)
			return;
	}
	bad_input(in, line + 1, "no address-space: block in the input");
}

/* ------------------------------------------------------------------ */
/* From occurrences to regions                                         */
/* ------------------------------------------------------------------ */

static struct node *uf_find(struct node *n)
{
	while (n->uf) {
		if (n->uf->uf)
			n->uf = n->uf->uf;
		n = n->uf;
	}
	return n;
}

/* Address relative to the container; a top line is printed at base 0. */
static uint64_t rel_addr(const struct node *n)
{
	return n->parent ? n->start - n->parent->start : n->start;
}

static unsigned int nr_children(const struct node *n)
{
	return n->children ? n->children->len : 0;
}

static struct node *child(const struct node *n, unsigned int i)
{
	return g_ptr_array_index(n->children, i);
}

/* Would @a and @b print the same way, subtrees included? */
static bool same_shape(const struct node *a, const struct node *b)
{
	unsigned int i;

	if (strcmp(a->name, b->name) || rel_addr(a) != rel_addr(b) ||
	    a->size != b->size || a->prio != b->prio || a->type != b->type ||
	    a->nv != b->nv || a->disabled != b->disabled ||
	    a->alias != b->alias || nr_children(a) != nr_children(b))
		return false;
	if (a->alias && (strcmp(a->target_name, b->target_name) ||
			 a->alias_offset != b->alias_offset))
		return false;
	for (i = 0; i < nr_children(a); i++)
		if (!same_shape(child(a, i), child(b, i)))
			return false;
	return true;
}

static bool is_inside(const struct node *n, const struct node *top)
{
	for (; n; n = n->parent)
		if (n == top)
			return true;
	return false;
}

static void unify(struct node *a, struct node *b)
{
	struct node *ra = uf_find(a), *rb = uf_find(b);
	unsigned int i;

	if (ra != rb)
		ra->uf = rb;
	for (i = 0; i < nr_children(a); i++)
		unify(child(a, i), child(b, i));
}

/* The section (other than @self) whose top is in the region of @n. */
static struct block *claimed_by(struct input *in, struct node *n,
				struct block *self)
{
	struct node *r = uf_find(n);
	unsigned int i;

	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (b->section && b != self && uf_find(b->top) == r)
			return b;
	}
	return NULL;
}

/*
 * QEMU 7.2 gives every alias target a section, also when the target is
 * already printed in a tree.  A section whose tree matches a region printed
 * elsewhere (same name, address, subtree) is a re-print of that region;
 * otherwise it defines a region of its own, which has no container.
 * Identical candidates print and render identically, so the first one that
 * no other section claims is taken.
 */
static void match_sections(struct input *in)
{
	unsigned int i, j;

	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);
		bool found = false, claimed = false;
		struct block *other = NULL;

		if (!b->section)
			continue;
		for (j = 0; j < in->nodes->len && !found; j++) {
			struct node *n = g_ptr_array_index(in->nodes, j);

			if ((n->block->section && n == n->block->top) ||
			    is_inside(n, b->top) ||
			    strcmp(n->name, b->top->name) ||
			    !same_shape(n, b->top))
				continue;
			other = claimed_by(in, n, b);
			if (other) {
				claimed = true;
				continue;
			}
			unify(b->top, n);
			found = true;
		}
		if (!found && claimed)
			bad_input(in, b->line, "region '%s' already has a "
				  "memory-region: section (line %u)",
				  b->name, other->line);
	}
}

static void build_regions(struct input *in)
{
	unsigned int i;

	for (i = 0; i < in->nodes->len; i++) {
		struct node *n = g_ptr_array_index(in->nodes, i);
		struct node *r = uf_find(n);

		if (!r->region) {
			r->region = g_new0(struct region, 1);
			r->region->rep = n;
			g_ptr_array_add(in->regions, r->region);
		}
		n->region = r->region;
		/* the occurrence inside a container defines the region */
		if (n->parent && !n->region->rep->parent)
			n->region->rep = n;
	}
	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);

		if (r->rep->parent)
			r->container = r->rep->parent->region;
	}
}

/* The one non-alias region called like @alias's target, or NULL. */
static struct region *unique_region(struct input *in, struct node *alias)
{
	struct region *found = NULL;
	unsigned int i;

	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);

		if (r->rep->alias || strcmp(r->rep->name, alias->target_name))
			continue;
		if (found)
			bad_input(in, alias->line, "alias target '%s' is "
				  "ambiguous: regions at lines %u and %u",
				  alias->target_name, found->rep->line,
				  r->rep->line);
		found = r;
	}
	return found;
}

/* The first section that no alias has resolved to yet. */
static struct block *next_unused_section(struct input *in)
{
	unsigned int i;

	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (b->section && !b->used)
			return b;
	}
	return NULL;
}

/*
 * Every alias target has a section named after it.  When several sections
 * share a name, the alias's type (its target's) rules some out, then
 * QEMU's order decides: sections come in the order their target was first
 * reached, which is the order of the alias lines.  So a new target takes
 * the next unused section, and an alias that does not match that one
 * refers to a section already taken.
 */
static struct region *resolve_target(struct input *in, struct node *a)
{
	GPtrArray *secs = g_hash_table_lookup(in->sections, a->target_name);
	struct block *fresh = NULL, *old = NULL;
	struct region *r;
	unsigned int i, nold = 0, ncand = 0;

	if (!secs) {
		/* not QEMU 7.2's layout: fall back to a unique name */
		r = unique_region(in, a);
		if (!r)
			bad_input(in, a->line, "alias target '%s' is not a "
				  "known region", a->target_name);
		return r;
	}
	for (i = 0; i < secs->len; i++) {
		struct block *b = g_ptr_array_index(secs, i);

		/* an alias target's type is only known once resolved */
		if (secs->len > 1 && !b->top->alias && b->top->type != a->type)
			continue;
		ncand++;
		if (b->used) {
			old = b;
			nold++;
		} else if (!fresh) {
			fresh = b;
		}
	}
	if (!ncand)
		bad_input(in, a->line, "no memory-region: section '%s' "
			  "shows a region of type %s", a->target_name,
			  type_names[a->type]);
	if (fresh && nold && fresh != next_unused_section(in))
		fresh = NULL;
	if (ncand == 1)
		old = fresh ? fresh : old;
	else if (!nold)
		old = fresh;
	else if (nold > 1 || fresh)
		bad_input(in, a->line, "alias target '%s' is ambiguous: %u "
			  "memory-region: sections of type %s have that name",
			  a->target_name, ncand, type_names[a->type]);
	old->used = true;
	return old->top->region;
}

static void resolve_aliases(struct input *in)
{
	unsigned int i;

	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);
		GPtrArray *list;

		if (!b->section)
			continue;
		list = g_hash_table_lookup(in->sections, b->name);
		if (!list) {
			list = g_ptr_array_new();
			g_hash_table_insert(in->sections, b->name, list);
		}
		g_ptr_array_add(list, b);
	}
	/* line order is QEMU's walk order */
	for (i = 0; i < in->nodes->len; i++) {
		struct node *n = g_ptr_array_index(in->nodes, i);

		if (n->alias && !n->region->target)
			n->region->target = resolve_target(in, n);
	}
	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (b->section && !b->used)
			bad_input(in, b->line, "memory-region: section '%s' "
				  "is not the target of any alias", b->name);
	}
}

/* Rendering follows children and alias targets: a cycle never ends. */
static void check_loops(struct input *in, struct region *r, GPtrArray *path)
{
	unsigned int i;

	if (r->visit == 2)
		return;
	if (r->visit == 1) {
		/* a cycle needs an alias edge: name one on the path */
		for (i = path->len; i-- > 0;) {
			struct region *p = g_ptr_array_index(path, i);

			if (p->rep->alias)
				bad_input(in, p->rep->line, "alias '%s' leads "
					  "back into itself through '%s'",
					  p->rep->name, p->target->rep->name);
			if (p == r)
				break;
		}
		bad_input(in, r->rep->line, "region loop");
	}
	r->visit = 1;
	g_ptr_array_add(path, r);
	if (r->target)
		check_loops(in, r->target, path);
	for (i = 0; i < nr_children(r->rep); i++)
		check_loops(in, child(r->rep, i)->region, path);
	g_ptr_array_set_size(path, path->len - 1);
	r->visit = 2;
}

static enum mr_type final_type(struct region *r)
{
	while (r->target)
		r = r->target;
	return r->rep->type;
}

static void check_regions(struct input *in, struct options *o)
{
	GPtrArray *path = g_ptr_array_new();
	GHashTableIter it;
	void *key, *val;
	unsigned int i;

	for (i = 0; i < in->regions->len; i++)
		check_loops(in, g_ptr_array_index(in->regions, i), path);
	g_ptr_array_unref(path);

	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);
		enum mr_type t;

		if (!r->target)
			continue;
		/* QEMU prints an alias with its target's type */
		t = final_type(r);
		if (t != r->rep->type)
			bad_input(in, r->rep->line, "alias '%s' has type %s "
				  "but its target '%s' (line %u) is %s",
				  r->rep->name, type_names[r->rep->type],
				  r->target->rep->name,
				  r->target->rep->line, type_names[t]);
	}

	/* apply the NAME options; each must name something */
	g_hash_table_iter_init(&it, o->hints);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		unsigned int bits = GPOINTER_TO_UINT(val), used = 0, b;

		for (i = 0; i < in->regions->len; i++) {
			struct region *r = g_ptr_array_index(in->regions, i);

			if (strcmp(r->rep->name, key))
				continue;
			if (bits & HINT_READONLY) {
				r->hints |= HINT_READONLY;
				used |= HINT_READONLY;
			}
			if (r->rep->alias || r->rep->type != T_IO)
				continue;
			r->hints |= bits & (HINT_TERMINATES | HINT_CONTAINER);
			used |= bits & (HINT_TERMINATES | HINT_CONTAINER);
		}
		for (b = 0; b < G_N_ELEMENTS(hint_option); b++)
			if ((bits & ~used) & (1u << b))
				usage_error("%s '%s': no %sregion has that "
					    "name", hint_option[b],
					    (const char *)key,
					    (1u << b) == HINT_READONLY ? ""
					    : "non-alias i/o ");
	}
}

/* ------------------------------------------------------------------ */
/* Building the map with libloopback                                   */
/* ------------------------------------------------------------------ */

static uint64_t dummy_read(void *opaque, hwaddr addr, unsigned size)
{
	return 0;
}

static void dummy_write(void *opaque, hwaddr addr, uint64_t data,
			unsigned size)
{
}

static const MemoryRegionOps dummy_ops = {
	.read = dummy_read,
	.write = dummy_write,
	.endianness = DEVICE_NATIVE_ENDIAN,
};

/* Regions not finalised yet; their storage must stay. */
static int live_regions;

/* may run on the library's RCU thread */
static void region_freed(void *data)
{
	g_atomic_int_dec_and_test(&live_regions);
}

/* The API spells 2^64 as UINT64_MAX. */
static uint64_t api_size(u128 size)
{
	return size == (u128)1 << 64 ? UINT64_MAX : (uint64_t)size;
}

static void init_failed(const struct input *in, struct node *n,
			GError *err)
{
	fprintf(stderr, PROG ": %s:%u: cannot create %s region '%s': %s\n",
		in->fname, n->line, type_names[n->type], n->name,
		err ? err->message : "unknown error");
	exit(EXIT_IO);
}

static void create_region(struct input *in, struct region *r)
{
	struct node *n = r->rep;
	uint64_t size = api_size(n->size);
	bool container;
	GError *err = NULL;
	bool ok = true;

	if (r->mr)
		return;
	r->mr = g_new0(MemoryRegion, 1);
	if (n->alias) {
		create_region(in, r->target);
		memory_region_init_alias(r->mr, NULL, n->name, r->target->mr,
					 n->alias_offset, size);
		goto done;
	}
	switch (n->type) {
	case T_IO:
		container = nr_children(n) ? !(r->hints & HINT_TERMINATES)
					   : !!(r->hints & HINT_CONTAINER);
		if (container)
			memory_region_init(r->mr, NULL, n->name, size);
		else
			memory_region_init_io(r->mr, NULL, &dummy_ops, NULL,
					      n->name, size);
		break;
	case T_RAM:
		ok = memory_region_init_ram(r->mr, NULL, n->name, size, &err);
		break;
	case T_ROM:
		ok = memory_region_init_rom(r->mr, NULL, n->name, size, &err);
		break;
	case T_ROMD:
		ok = memory_region_init_rom_device(r->mr, NULL, &dummy_ops,
						   NULL, n->name, size, &err);
		if (ok)
			memory_region_rom_device_set_romd(r->mr, true);
		break;
	case T_RAMD:
		/* never accessed: sparse anonymous memory is enough */
		r->ram_device = mmap(NULL, size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS |
				     MAP_NORESERVE, -1, 0);
		if (r->ram_device == MAP_FAILED) {
			r->ram_device = NULL;
			err = g_error_new(G_FILE_ERROR,
					  g_file_error_from_errno(errno),
					  "mmap: %s", g_strerror(errno));
			ok = false;
			break;
		}
		r->ram_device_len = size;
		memory_region_init_ram_device_ptr(r->mr, NULL, n->name, size,
						  r->ram_device);
		break;
	default:
		g_assert_not_reached();
	}
	if (!ok)
		init_failed(in, n, err);
done:
	g_atomic_int_inc(&live_regions);
	loopback_memory_region_set_free_notify(r->mr, region_freed, NULL);
}

/*
 * Adds @n's children to @r's region in the order that reproduces QEMU's
 * list.  Only siblings of equal priority depend on the order (the newest
 * comes first and wins), and the text shows it only where they also share
 * an address: QEMU prints by address, then by priority, and keeps list
 * order (newest first) among the rest, so each such run is added in
 * reverse.  Between runs the text says nothing; the runs are added in
 * printed order, so a sibling at a higher address wins over an overlapping
 * one of equal priority at a lower address.  That is what every capture in
 * tests/data/mtree shows (a device inside a larger ROM or io region, two
 * overlapping port ranges); see loopback-mtree(1).
 */
static void add_children(struct region *r, const struct node *n)
{
	unsigned int first, end, j;

	for (first = 0; first < nr_children(n); first = end) {
		const struct node *f = child(n, first);

		for (end = first + 1; end < nr_children(n); end++) {
			const struct node *c = child(n, end);

			if (rel_addr(c) != rel_addr(f) || c->prio != f->prio)
				break;
		}
		for (j = end; j-- > first;) {
			struct node *c = child(n, j);

			memory_region_add_subregion_overlap(r->mr, rel_addr(c),
							    c->region->mr,
							    c->prio);
		}
	}
}

struct address_spaces {
	AddressSpace *as;
	unsigned int nr;
	MemoryRegion *scratch;
};

static void build_map(struct input *in, struct address_spaces *ases)
{
	unsigned int i, j, k;

	memory_region_transaction_begin();

	for (i = 0; i < in->regions->len; i++)
		create_region(in, g_ptr_array_index(in->regions, i));

	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);
		struct node *n = r->rep;

		if (n->disabled)
			memory_region_set_enabled(r->mr, false);
		if (n->nv)
			memory_region_set_nonvolatile(r->mr, true);
		if (r->hints & HINT_READONLY)
			memory_region_set_readonly(r->mr, true);

		add_children(r, n);
	}

	/*
	 * A region without container (a root, or a target shown only in its
	 * section) keeps the address and priority it last had in one: QEMU
	 * prints them.  Priority has no setter, so map it briefly.
	 */
	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);
		struct node *n = r->rep;

		if (r->container)
			continue;
		if (n->prio) {
			if (!ases->scratch) {
				ases->scratch = g_new0(MemoryRegion, 1);
				memory_region_init(ases->scratch, NULL,
						   PROG "-scratch", UINT64_MAX);
				g_atomic_int_inc(&live_regions);
				loopback_memory_region_set_free_notify(
					ases->scratch, region_freed, NULL);
			}
			memory_region_add_subregion_overlap(ases->scratch,
							    n->start, r->mr,
							    n->prio);
			memory_region_del_subregion(ases->scratch, r->mr);
		} else if (n->start) {
			memory_region_set_address(r->mr, n->start);
		}
	}
	/* one per address-space: line, in input order */
	for (i = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (!b->section)
			ases->nr += b->as_names->len;
	}
	ases->as = g_new0(AddressSpace, ases->nr);
	for (i = 0, k = 0; i < in->blocks->len; i++) {
		struct block *b = g_ptr_array_index(in->blocks, i);

		if (b->section)
			continue;
		for (j = 0; j < b->as_names->len; j++)
			address_space_init(&ases->as[k++], b->top->region->mr,
					   g_ptr_array_index(b->as_names, j));
	}

	memory_region_transaction_commit();
}

static void free_map(struct input *in, struct address_spaces *ases)
{
	unsigned int i;

	for (i = 0; i < ases->nr; i++)
		address_space_destroy(&ases->as[i]);
	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);

		memory_region_unref(r->mr);
	}
	if (ases->scratch)
		memory_region_unref(ases->scratch);
	loopback_memory_drain();

	if (g_atomic_int_get(&live_regions)) {
		/* the library still uses them: leak rather than corrupt */
		fprintf(stderr, PROG ": warning: %d regions were not "
			"finalised\n", g_atomic_int_get(&live_regions));
		return;
	}
	g_free(ases->scratch);
	g_free(ases->as);
	for (i = 0; i < in->regions->len; i++) {
		struct region *r = g_ptr_array_index(in->regions, i);

		if (r->ram_device)
			munmap(r->ram_device, r->ram_device_len);
		g_free(r->mr);
	}
}

int main(int argc, char **argv)
{
	struct options opts = { 0 };
	struct address_spaces ases = { 0 };
	struct input in = { 0 };
	FILE *f;

	parse_options(&opts, argc, argv);

	if (!strcmp(opts.file, "-")) {
		f = stdin;
		in.fname = "<stdin>";
	} else {
		f = fopen(opts.file, "r");
		if (!f) {
			fprintf(stderr, PROG ": %s: %s\n", opts.file,
				g_strerror(errno));
			return EXIT_IO;
		}
		in.fname = opts.file;
	}
	in.blocks = g_ptr_array_new_with_free_func(block_free);
	in.nodes = g_ptr_array_new_with_free_func(node_free);
	in.regions = g_ptr_array_new_with_free_func(g_free);
	in.sections = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					    (GDestroyNotify)g_ptr_array_unref);

	read_input(&in, f, opts.file);
	if (f != stdin)
		fclose(f);

	match_sections(&in);
	build_regions(&in);
	resolve_aliases(&in);
	check_regions(&in, &opts);

	build_map(&in, &ases);
	loopback_mtree_print(stdout, opts.flatview, opts.disabled);
	free_map(&in, &ases);

	input_free(&in);
	g_hash_table_unref(opts.hints);

	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, PROG ": write error: %s\n", g_strerror(errno));
		return EXIT_IO;
	}
	return EXIT_SUCCESS;
}
