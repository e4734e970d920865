{#- Lower-case text with Latin diacritics removed, so "Björk" is found by "bjork". Spark SQL has
    no unaccent(): translate() maps the accented letters of Latin-1 and Latin Extended-A, and the
    ligatures are spelled out. The app normalises queries the same way (NFKD, drop marks). -#}
{% macro strip_accents(expression) -%}
replace(replace(replace(replace(translate(lower({{ expression }}),
    'àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž',
    'aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz'),
    'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th')
{%- endmacro %}
