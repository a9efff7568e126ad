/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The floor: the cheapest program there is to exec. */
int main(void)
{
    return 0;
}
