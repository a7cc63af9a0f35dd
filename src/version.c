/* SPDX-License-Identifier: Apache-2.0 */
/* version.c - the version this binary was built as */
#include "conduit/version.h"

/* build/gen/version_gen.h: written by the Makefile, only when it changes */
#include "version_gen.h"

const char *version_string(void)
{
	return CONDUIT_VERSION;
}

const char *version_image(void)
{
	return CONDUIT_IMAGE_REPO ":" CONDUIT_VERSION;
}

const char *version_image_repo(void)
{
	return CONDUIT_IMAGE_REPO;
}
