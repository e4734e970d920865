{#- Spotify gives a release date at its precision: "1981" (year), "1981-12" (month) or
    "1981-12-15" (day). As a date we take the first day of the period; an unparseable or zero date
    ("0000", seen on old catalogue items) stays null instead of failing the run. When the stated
    precision and the string disagree ("1990-05-12" at year precision, "1990" at day, "MONTH"),
    the coarser of the two wins: it is all that is known for sure. A missing or unknown precision
    is read from the string's length. -#}
{% macro release_date_from_precision(date_column, precision_column) -%}
case when try_cast(substr({{ date_column }}, 1, 4) as int) >= 1 then
case {{ release_date_level(date_column, precision_column) }}
    when 1 then try_to_date(concat(substr({{ date_column }}, 1, 4), '-01-01'), 'yyyy-MM-dd')
    when 2 then try_to_date(concat(substr({{ date_column }}, 1, 7), '-01'), 'yyyy-MM-dd')
    else try_to_date(substr({{ date_column }}, 1, 10), 'yyyy-MM-dd')
end
end
{%- endmacro %}

{#- The precision release_date_from_precision used ("year", "month" or "day"), null when it gave
    no date: what a reader of that date may show, unlike Spotify's stated precision. -#}
{% macro effective_release_date_precision(date_column, precision_column) -%}
case when {{ release_date_from_precision(date_column, precision_column) }} is not null
    then element_at(array('year', 'month', 'day'),
                    {{ release_date_level(date_column, precision_column) }})
end
{%- endmacro %}

{#- 1 (year), 2 (month) or 3 (day): the coarser of the stated precision and the string's. -#}
{% macro release_date_level(date_column, precision_column) -%}
least(
        case lower({{ precision_column }}) when 'year' then 1 when 'month' then 2 else 3 end,
        case when length({{ date_column }}) >= 10 then 3
             when length({{ date_column }}) >= 7 then 2 else 1 end)
{%- endmacro %}

{#- The year, also when only the year is valid. -#}
{% macro release_year_from_date(date_column) -%}
case
    when try_cast(substr({{ date_column }}, 1, 4) as int) between 1 and 9999
        then try_cast(substr({{ date_column }}, 1, 4) as int)
end
{%- endmacro %}
