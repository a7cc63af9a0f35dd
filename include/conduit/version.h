/* SPDX-License-Identifier: Apache-2.0 */
/* version.h - the version this binary was built as */
#ifndef CONDUIT_VERSION_H
#define CONDUIT_VERSION_H

/*
 * version_string - "v0.1.0", or what `git describe` said at build time
 * ("v0.1.0-12-gabcdef0", "-dirty" when the tree had changes). Static.
 */
const char *version_string(void);

/*
 * version_image - the image install and inject use by default,
 * "<repo>:<version>" with the repo the build was made with (IMAGE_REPO,
 * default localhost/conduit: the archive `make image` writes). Static.
 */
const char *version_image(void);

/* version_image_repo - that repo alone ("localhost/conduit") */
const char *version_image_repo(void);

#endif
