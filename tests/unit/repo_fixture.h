/* repo_fixture.h — a fresh repository on test_repo_dest for the repository's
 * unit tests: temp destination and state directories, dest, params, init. */
#ifndef REPO_FIXTURE_H
#define REPO_FIXTURE_H

#include "repo.h"

struct repo_fixture {
	char *dir;   /* the destination */
	char *state; /* state_dir */
	struct repo_dest d;
	struct repo_params p;
};

/* Fill f: new temp directories, destination "unit" over dir, params p with
 * state_dir set to state; then repo_init (asserted to succeed). Makes the
 * key derivation fast (ARCA_TEST_FAST_KDF). */
void repo_fixture_init(struct repo_fixture *f, const struct repo_params *p);
/* Remove both directories (f itself is the caller's). */
void repo_fixture_clear(struct repo_fixture *f);

#endif
