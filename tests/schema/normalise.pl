#!/usr/bin/perl
# tests/schema/normalise.pl < DUMP: a `pg_dump --schema-only` as one line per
# object, "TYPE|NAME|TEXT", sorted, so that two dumps compare with diff
# whatever order pg_dump chose. TEXT is the object's statements with every
# SQL comment taken out and each run of white space made one space: two
# function bodies that differ only in comments, indentation or line breaks
# read the same. The GRANT/REVOKE lines of an ACL entry are sorted (their
# order depends on the order of the grants, which means nothing).
use strict;
use warnings;

local $/;
my $dump = <STDIN>;
# pg_dump 15.14 and later fence the dump with \restrict KEY ... \unrestrict
# KEY, a random key each time.
$dump =~ s/^\\(?:un)?restrict .*\n//mg;

# Drops -- and /* */ comments outside '...' strings and "..." names.
sub strip_comments {
    my ($s) = @_;
    my $out = '';
    while (length $s) {
        if ($s =~ s/^('(?:[^']|'')*')//s)         { $out .= $1; }
        elsif ($s =~ s/^("(?:[^"]|"")*")//s)      { $out .= $1; }
        elsif ($s =~ s/^--[^\n]*//s)              { $out .= ' '; }
        elsif ($s =~ s/^\/\*.*?\*\///s)           { $out .= ' '; }
        elsif ($s =~ s/^([^'"\-\/]+|.)//s)        { $out .= $1; }
    }
    return $out;
}

my @parts = split /^--\n-- Name: (.*?); Type: (.*?); Schema: [^;\n]*(?:; Owner: [^\n]*)?\n--\n/m, $dump;
shift @parts;    # the preamble: SET statements, the same in every dump
my @lines;
while (@parts) {
    my ($name, $type, $text) = splice @parts, 0, 3;
    $text = strip_comments($text);
    if ($type eq 'ACL') {
        $text = join ' ', sort map { s/\s+/ /gr =~ s/^ | $//gr } grep { /\S/ } split /;/, $text;
    }
    $text =~ s/\s+/ /g;
    $text =~ s/^ | $//g;
    push @lines, "$type|$name|$text\n";
}
print sort @lines;
