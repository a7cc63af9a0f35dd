/* SPDX-License-Identifier: Apache-2.0 */
/* version.h - the version this binary was built as */
#ifndef CONDUIT_VERSION_H
#define CONDUIT_VERSION_H

/*
 * version_string - "v0.1.0", or what `git describe` said at build time
 * ("v0.1.0-12-gabcdef0", "-dirty" when the tree had changes). Static.
 */
const char *version_string(void);

#endif
