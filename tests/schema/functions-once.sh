#!/usr/bin/env bash
# tests/schema/functions-once.sh [DIR]: every SQL function under DIR
# (default sql/) is defined exactly once.
#
# Reads every *.sql file under DIR, finds each CREATE [OR REPLACE]
# FUNCTION or PROCEDURE (also inside a DO block's EXECUTE, not inside a
# comment) and keys it as PostgreSQL does: the name in lower case and the
# types of its input arguments, without argument names, defaults or OUT
# arguments, with the usual spellings made one (timestamptz = timestamp
# with time zone, int = integer, ...). Overloads (same name, other types)
# are separate functions. Prints each function defined more than once with
# where, and exits 1; else prints how many there are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/sql}"
[[ -d "$DIR" ]] || { echo "functions-once: no directory $DIR" >&2; exit 2; }

find "$DIR" -name '*.sql' -type f -print0 | LC_ALL=C sort -z | perl -0 -e '
use strict;
use warnings;

my %alias = (
    "int" => "integer", "int4" => "integer", "int2" => "smallint", "int8" => "bigint",
    "float8" => "double precision", "float4" => "real", "float" => "double precision",
    "bool" => "boolean", "decimal" => "numeric", "varchar" => "character varying",
    "char" => "character", "timestamptz" => "timestamp with time zone",
    "timestamp" => "timestamp without time zone", "timetz" => "time with time zone",
    "time" => "time without time zone",
);
# Words that begin a type name: an argument that starts with one has no name.
my %type_word = map { $_ => 1 } qw(double timestamp time character bit interval
    integer bigint smallint text boolean jsonb json bytea numeric real date uuid xml);

sub strip_comments {    # -- and /* */ out, strings kept (line breaks kept)
    my ($s) = @_;
    my $out = "";
    while (length $s) {
        if    ($s =~ s/^(\x27(?:[^\x27]|\x27\x27)*\x27)//s) { $out .= $1; }
        elsif ($s =~ s/^("(?:[^"]|"")*")//s)                { $out .= $1; }
        elsif ($s =~ s/^--[^\n]*//s)                        { }
        elsif ($s =~ s/^\/\*(.*?)\*\///s)                   { $out .= "\n" x ($1 =~ tr/\n//); }
        elsif ($s =~ s/^([^\x27"\-\/]+|.)//s)               { $out .= $1; }
    }
    return $out;
}

sub norm_type {
    my ($t) = @_;
    $t = lc $t;
    $t =~ s/^\s+|\s+$//g;
    $t =~ s/\s+/ /g;
    $t =~ s/^public\.//;
    $t =~ s/\s*\[\s*\d*\s*\]/[]/g;
    my ($base, $arr) = $t =~ /^(.*?)((?:\[\])*)$/;
    $base = $alias{$base} // $base;
    return $base . $arr;
}

sub signature {    # the text between the parentheses -> "type,type"
    my ($args) = @_;
    my @parts;
    my ($depth, $cur) = (0, "");
    for my $c (split //, $args) {
        $depth++ if $c eq "(";
        $depth-- if $c eq ")";
        if ($c eq "," && $depth == 0) { push @parts, $cur; $cur = ""; } else { $cur .= $c; }
    }
    push @parts, $cur if $cur =~ /\S/;
    my @types;
    for my $p (@parts) {
        $p =~ s/\s+(?:DEFAULT\b|=).*//is;
        $p =~ s/^\s+|\s+$//g;
        my @w = split /\s+/, $p;
        my $mode = (@w > 1 && $w[0] =~ /^(IN|OUT|INOUT|VARIADIC)$/i) ? uc shift @w : "IN";
        next if $mode eq "OUT";
        shift @w if @w > 1 && !$type_word{lc $w[0]};
        push @types, norm_type(join " ", @w);
    }
    return join ",", @types;
}

my @files = map { s/\0$//r } <STDIN>;
my (%where, @order);
for my $file (@files) {
    open my $fh, "<", $file or die "$file: $!";
    my $text = strip_comments(do { local $/; <$fh> });
    while ($text =~ /\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+((?:"[^"]+"|[\w.]+))\s*\(/gi) {
        my ($name, $start) = ($1, $+[0]);
        my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
        my ($depth, $i) = (1, $start);
        while ($depth && $i < length $text) {
            my $c = substr($text, $i++, 1);
            $depth++ if $c eq "(";
            $depth-- if $c eq ")";
        }
        $name = $name =~ /^"(.*)"$/ ? $1 : lc $name;
        $name =~ s/^public\.//;
        my $key = "$name(" . signature(substr($text, $start, $i - 1 - $start)) . ")";
        push @order, $key unless $where{$key};
        push @{$where{$key}}, "$file:$line";
    }
}
my @twice = grep { @{$where{$_}} > 1 } @order;
for my $k (@twice) {
    printf "functions-once: %s is defined %d times: %s\n", $k, scalar @{$where{$k}},
        join(", ", @{$where{$k}});
}
if (@twice) {
    printf "functions-once: %d of %d functions defined more than once\n", scalar @twice, scalar @order;
    exit 1;
}
printf "functions-once: %d functions, each defined once\n", scalar @order;
'
