// message.h: a one-line message for the user or for node, shared by launch.c
// (run) and enter.c (exec): PREFIX then the formatted text and a newline,
// written in one write(2) so the lines of processes sharing stderr do not
// interleave; cut at 2 KiB. A write that fails is let go: the exit status the
// caller goes on to give still tells.
#ifndef MYDOCKER_MESSAGE_H
#define MYDOCKER_MESSAGE_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static void write_message(int fd, const char *prefix, const char *format, va_list args) {
    char text[2048];
    vsnprintf(text, sizeof text, format, args);
    char line[2200];
    int length = snprintf(line, sizeof line, "%s%s\n", prefix, text);
    if (length > (int)sizeof line - 1) length = sizeof line - 1;
    if (write(fd, line, length) < 0) {
        // Nothing more can be said.
    }
}

#endif
