/* version: the one place pgfold's version string lives. */
#ifndef PGFOLD_VERSION_H
#define PGFOLD_VERSION_H

#define PGFOLD_VERSION_STRING "0.1.0"

#endif
