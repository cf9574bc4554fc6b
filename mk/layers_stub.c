/* layers_stub.c: the main() of the layers' link check (Makefile,
 * "$(BUILD)/layers/%.linked"): each layer's archive is linked whole with
 * this and the archives below it, so that a call upward is an undefined
 * reference. It is never run. */
int main(void);

int main(void)
{
	return 0;
}
