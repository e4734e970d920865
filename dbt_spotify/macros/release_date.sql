{#- Spotify gives a release date at its precision: "1981" (year), "1981-12" (month) or
    "1981-12-15" (day). As a date we take the first day of the period; an unparseable or zero date
    ("0000", seen on old catalogue items) stays null instead of failing the run. -#}
{% macro release_date_from_precision(date_column, precision_column) -%}
case when try_cast(substr({{ date_column }}, 1, 4) as int) >= 1 then
case coalesce({{ precision_column }},
              case length({{ date_column }}) when 4 then 'year' when 7 then 'month' else 'day' end)
    when 'year' then try_to_date(concat({{ date_column }}, '-01-01'), 'yyyy-MM-dd')
    when 'month' then try_to_date(concat({{ date_column }}, '-01'), 'yyyy-MM-dd')
    else try_to_date({{ date_column }}, 'yyyy-MM-dd')
end
end
{%- endmacro %}

{#- The year, also when only the year is valid. -#}
{% macro release_year_from_date(date_column) -%}
case
    when try_cast(substr({{ date_column }}, 1, 4) as int) between 1 and 9999
        then try_cast(substr({{ date_column }}, 1, 4) as int)
end
{%- endmacro %}
